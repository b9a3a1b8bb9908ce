// Package channeltest holds what tests of channels, and of alerting
// through them, share: an in-process SMTP server.
package channeltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// SMTPServer is an in-process SMTP server offering STARTTLS and PLAIN
// authentication, as a mail relay would.
type SMTPServer struct {
	// Addr is where it listens; CAFile the PEM file of the certificate
	// it presents, for a channel's tls_ca_file.
	Addr, CAFile string
	// User and Password are the credentials it takes.
	User, Password string

	mu     sync.Mutex
	got    []Mail
	refuse int // an SMTP reply code for MAIL FROM; 0 accepts
}

// Mail is one message the server took.
type Mail struct {
	TLS  bool
	User string
	From string
	To   []string
	// Data is the message with LF line ends.
	Data string
}

// StartSMTP starts a server on a loopback port, stopped when t ends.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	return start(t, true)
}

// StartSMTPWithoutTLS starts a server that does not offer STARTTLS.
func StartSMTPWithoutTLS(t testing.TB) *SMTPServer {
	t.Helper()
	return start(t, false)
}

func start(t testing.TB, withTLS bool) *SMTPServer {
	t.Helper()
	s := &SMTPServer{User: "alerts", Password: "pw"}
	srv := smtp.NewServer(&backend{s})
	srv.Domain = "localhost"
	if withTLS {
		var cert tls.Certificate
		cert, s.CAFile = selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		// Without TLS go-smtp refuses AUTH unless told otherwise.
		srv.AllowInsecureAuth = true
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		err := <-done
		require.True(t, err == nil || errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed), "%v", err)
	})
	return s
}

// RefuseWith makes the server answer MAIL FROM with code; 0 accepts
// again.
func (s *SMTPServer) RefuseWith(code int) {
	s.mu.Lock()
	s.refuse = code
	s.mu.Unlock()
}

// Mails returns the messages taken so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.got...)
}

// Message waits for the first message and returns it.
func (s *SMTPServer) Message(t testing.TB) Mail {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.Mails()) > 0 }, 10*time.Second, 5*time.Millisecond)
	return s.Mails()[0]
}

type backend struct{ s *SMTPServer }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, m: Mail{TLS: isTLS}}, nil
}

type session struct {
	s *SMTPServer
	m Mail
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Password {
			return smtp.ErrAuthFailed
		}
		ss.m.User = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	code := ss.s.refuse
	ss.s.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "refused by the test"}
	}
	ss.m.From = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.m.To = append(ss.m.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.m.Data = strings.ReplaceAll(string(b), "\r\n", "\n")
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        {}
func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and writes it, as the CA
// the email channel is told to trust, to a file.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, certPEM, 0o644))
	return cert, path
}
