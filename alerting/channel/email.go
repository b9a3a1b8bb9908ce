package channel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// email sends over SMTP, upgrading with STARTTLS whenever the server offers
// it, and authenticating (PLAIN) only when a username is set. net/smtp's
// PLAIN refuses to send a password in the clear except to localhost.
type email struct {
	addr, host string
	from       string
	to         []string
	username   string
	password   string
	roots      *x509.CertPool // nil: the system's
	requireTLS bool
	timeout    time.Duration
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newEmail(c Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*email, error) {
	host, _, err := splitHostPort(c.SMTP)
	if err != nil {
		return nil, fmt.Errorf("email smtp address: %w", err)
	}
	e := &email{addr: c.SMTP, host: host, from: c.From, to: c.To, username: c.Username, password: c.Password, requireTLS: c.RequireTLS, timeout: c.Timeout, dial: dial}
	if e.dial == nil {
		var d net.Dialer
		e.dial = d.DialContext
	}
	if c.TLSCAFile != "" {
		if e.roots, err = loadRoots(c.TLSCAFile); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func splitHostPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || port == "") {
		err = errors.New("missing host or port")
	}
	return host, port, err
}

func loadRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

func (e *email) Send(ctx context.Context, n *schema.Notification) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	conn, err := e.dial(ctx, "tcp", e.addr)
	if err != nil {
		return &Error{Permanent: refused(err), Err: fmt.Errorf("connect to smtp server: %w", err)}
	}
	// net/smtp knows nothing of contexts: bound the whole exchange by the
	// connection's deadline, and cut it when ctx ends first.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		conn.Close()
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := e.exchange(c, n); err != nil {
		return err
	}
	// The message is accepted once DATA ends; a failed QUIT does not undo
	// that, so its error does not count.
	_ = c.Quit()
	return nil
}

func (e *email) exchange(c *smtp.Client, n *schema.Notification) error {
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: e.host, RootCAs: e.roots, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpError("starttls", err)
		}
	} else if e.requireTLS {
		return &Error{Permanent: true, Err: errors.New("smtp server does not offer STARTTLS and require_tls is set")}
	}
	if e.username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, e.host)); err != nil {
			return smtpError("auth", err)
		}
	}
	if err := c.Mail(e.from); err != nil {
		return smtpError("mail from", err)
	}
	for _, to := range e.to {
		if err := c.Rcpt(to); err != nil {
			return smtpError("rcpt to "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("data", err)
	}
	if _, err := w.Write(e.message(n)); err != nil {
		return smtpError("data", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("end of data", err)
	}
	return nil
}

// smtpError keeps the server's reply code: 5xx replies are permanent,
// the rest worth another attempt.
func smtpError(step string, err error) error {
	e := &Error{Err: fmt.Errorf("smtp %s: %w", step, err)}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		e.Status = tp.Code
		e.Permanent = tp.Code >= 500
	}
	return e
}

func (e *email) message(n *schema.Notification) []byte {
	var b bytes.Buffer
	subject := fmt.Sprintf("[%s] %s", strings.ToUpper(string(n.Severity)), n.Title)
	if n.State == "resolved" {
		subject = "[RESOLVED] " + n.Title
	}
	header := [][2]string{
		{"From", e.from},
		{"To", strings.Join(e.to, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", time.Now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + n.ID + "@taskpulse>"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		{HeaderNotificationID, n.ID},
	}
	for _, h := range header {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	fmt.Fprintf(qp, "%s\r\n\r\n", n.Body)
	fmt.Fprintf(qp, "Severity: %s\r\nState: %s\r\nRule: %s\r\n", n.Severity, n.State, n.Rule)
	if n.TaskID != "" {
		fmt.Fprintf(qp, "Task: %s\r\n", n.TaskID)
	}
	qp.Close()
	return b.Bytes()
}
