package alerting

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
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

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/schema"
)

func TestSlackMessage(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(`
channels:
  team:
    type: slack
    url: %s
rules:
  - id: failed
    name: Skill failed
    kind: task_failed
    severity: critical
    channels: [team]
`, r.URL))
	e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed, Error: "boom"})
	got := r.waitRequests(t, 1)
	var msg channel.SlackMessage
	require.NoError(t, json.Unmarshal(got[0].body, &msg), string(got[0].body))
	require.Contains(t, msg.Text, "Skill failed")
	require.Contains(t, msg.Text, "boom")
	require.Equal(t, "header", msg.Blocks[0].Type)
	require.Equal(t, "plain_text", msg.Blocks[0].Text.Type)
	require.Contains(t, msg.Blocks[0].Text.Text, "Skill failed")
	require.Equal(t, "section", msg.Blocks[1].Type)
	require.Contains(t, msg.Blocks[1].Text.Text, "boom")
	require.Equal(t, "context", msg.Blocks[2].Type)
	require.Contains(t, msg.Blocks[2].Elements[0].Text, "*Severity:* critical")
	require.Equal(t, "application/json", got[0].header.Get("Content-Type"))
}

func TestEmailOverSMTPWithSTARTTLS(t *testing.T) {
	srv := startSMTP(t)
	e := newEnv(t, fmt.Sprintf(`
channels:
  oncall:
    type: email
    smtp: %s
    from: taskpulse@example.com
    to: [oncall@example.com, lead@example.com]
    username: alerts
    password: pw
    tls_ca_file: %s
    require_tls: true
rules:
  - id: failed
    name: Skill failed
    kind: task_failed
    severity: critical
    channels: [oncall]
`, srv.addr, srv.caFile))
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed, Error: "disk full"})
	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)

	m := srv.message(t)
	require.True(t, m.tls, "the server offered STARTTLS, so the mail must have used it")
	require.Equal(t, "alerts", m.user)
	require.Equal(t, "taskpulse@example.com", m.from)
	require.Equal(t, []string{"oncall@example.com", "lead@example.com"}, m.to)
	require.Contains(t, m.data, "Subject: [CRITICAL] Skill failed")
	require.Contains(t, m.data, "X-TaskPulse-Notification-Id: "+n.ID)
	require.Contains(t, m.data, "disk full")
}

// smtpServer is an in-process SMTP server offering STARTTLS and PLAIN
// authentication, as a mail relay would.
type smtpServer struct {
	addr, caFile string
	mu           sync.Mutex
	got          []mail
}

type mail struct {
	tls  bool
	user string
	from string
	to   []string
	data string
}

func startSMTP(t testing.TB) *smtpServer {
	t.Helper()
	cert, caFile := selfSigned(t)
	s := &smtpServer{caFile: caFile}
	srv := smtp.NewServer(&smtpBackend{s})
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		err := <-done
		require.True(t, err == nil || errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed), "%v", err)
	})
	return s
}

func (s *smtpServer) message(t testing.TB) mail {
	t.Helper()
	var m mail
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.got) == 0 {
			return false
		}
		m = s.got[0]
		return true
	}, patience, 5*time.Millisecond)
	return m
}

type smtpBackend struct{ s *smtpServer }

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &smtpSession{s: b.s, m: mail{tls: isTLS}}, nil
}

type smtpSession struct {
	s *smtpServer
	m mail
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "alerts" || pass != "pw" {
			return errors.New("bad credentials")
		}
		ss.m.user = user
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.m.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.m.to = append(ss.m.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.m.data = strings.ReplaceAll(string(b), "\r\n", "\n")
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *smtpSession) Reset()        {}
func (ss *smtpSession) Logout() error { return nil }

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
