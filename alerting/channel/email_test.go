package channel

import (
	"context"
	"mime"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/alerting/channel/channeltest"
)

func emailConfig(srv *channeltest.SMTPServer) Config {
	return Config{Type: TypeEmail, SMTP: srv.Addr, From: "taskpulse@example.com", To: []string{"oncall@example.com", "lead@example.com"},
		Username: srv.User, Password: srv.Password, TLSCAFile: srv.CAFile, RequireTLS: true, Timeout: 5 * time.Second}
}

func TestEmailOverSTARTTLS(t *testing.T) {
	srv := channeltest.StartSMTP(t)
	require.NoError(t, newSender(t, emailConfig(srv)).Send(context.Background(), notification()))
	m := srv.Message(t)
	require.True(t, m.TLS, "the server offers STARTTLS, so the mail must use it")
	require.Equal(t, "alerts", m.User)
	require.Equal(t, "taskpulse@example.com", m.From)
	require.Equal(t, []string{"oncall@example.com", "lead@example.com"}, m.To)
	header, body, ok := strings.Cut(m.Data, "\n\n")
	require.True(t, ok, m.Data)
	for _, h := range []string{"From: taskpulse@example.com", "To: oncall@example.com, lead@example.com",
		"Message-ID: <n1@taskpulse>", "X-TaskPulse-Notification-Id: n1", "Content-Transfer-Encoding: quoted-printable"} {
		require.Contains(t, header+"\n", h+"\n")
	}
	subject := header[strings.Index(header, "Subject: ")+len("Subject: "):]
	subject, _, _ = strings.Cut(subject, "\n")
	decoded, err := new(mime.WordDecoder).DecodeHeader(subject)
	require.NoError(t, err)
	require.Equal(t, "[CRITICAL] Skill failed", decoded)
	require.Contains(t, body, "task t1 failed: disk full")
	require.Contains(t, body, "Rule: failed")
	require.Contains(t, body, "Task: t1")

	n := notification()
	n.State = "resolved"
	require.NoError(t, newSender(t, emailConfig(srv)).Send(context.Background(), n))
	require.Eventually(t, func() bool { return len(srv.Mails()) == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Contains(t, srv.Mails()[1].Data, "Subject: [RESOLVED] Skill failed")
}

func TestEmailRequireTLS(t *testing.T) {
	srv := channeltest.StartSMTPWithoutTLS(t)
	c := emailConfig(srv)
	c.TLSCAFile, c.Username = "", ""
	e := asError(t, newSender(t, c).Send(context.Background(), notification()))
	require.True(t, e.Permanent)
	require.Contains(t, e.Error(), "does not offer STARTTLS")
	require.Empty(t, srv.Mails())

	c.RequireTLS = false
	require.NoError(t, newSender(t, c).Send(context.Background(), notification()))
	require.False(t, srv.Message(t).TLS)
}

// SMTP replies decide as HTTP statuses do: 5xx for good, 4xx worth
// another attempt.
func TestEmailReplies(t *testing.T) {
	srv := channeltest.StartSMTP(t)
	s := newSender(t, emailConfig(srv))
	for _, c := range []struct {
		code      int
		permanent bool
	}{{550, true}, {451, false}} {
		srv.RefuseWith(c.code)
		e := asError(t, s.Send(context.Background(), notification()))
		require.Equal(t, c.code, e.Status)
		require.Equal(t, c.permanent, e.Permanent, "reply %d", c.code)
		require.Contains(t, e.Error(), "smtp mail from")
	}
	srv.RefuseWith(0)

	wrong := emailConfig(srv)
	wrong.Password = "nope"
	e := asError(t, newSender(t, wrong).Send(context.Background(), notification()))
	require.True(t, e.Permanent, "bad credentials do not mend themselves: %v", e)
	require.Contains(t, e.Error(), "smtp auth")
}

func TestEmailServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := Config{Type: TypeEmail, SMTP: addr, From: "a@example.com", To: []string{"b@example.com"}, Timeout: time.Second}
	e := asError(t, newSender(t, c).Send(context.Background(), notification()))
	require.False(t, e.Permanent)
	require.Contains(t, e.Error(), "connect to smtp server")
}
