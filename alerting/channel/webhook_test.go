package channel

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func newSender(t testing.TB, c Config) Sender {
	t.Helper()
	s, err := New(c, Transport{Client: &http.Client{}})
	require.NoError(t, err)
	return s
}

func TestWebhookSendsSignedJSON(t *testing.T) {
	r := newReceiver(t, nil)
	s := newSender(t, Config{Type: TypeWebhook, URL: r.URL, Secret: "s3cret", Headers: map[string]string{"X-Team": "ops"}})
	n := notification()
	require.NoError(t, s.Send(context.Background(), n))

	got := r.requests()[0]
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	require.Equal(t, "n1", got.header.Get(HeaderNotificationID))
	require.Equal(t, "ops", got.header.Get("X-Team"))
	require.NoError(t, Verify("s3cret", got.header.Get(HeaderSignature), got.body, time.Now(), time.Minute))
	var sent schema.Notification
	require.NoError(t, json.Unmarshal(got.body, &sent))
	require.Equal(t, n.Title, sent.Title)
	require.Empty(t, sent.Deliveries, "the history is ours, not the receiver's")
	require.Zero(t, sent.SentAt)
	require.Zero(t, sent.ReadAt)
	require.Len(t, n.Deliveries, 1, "the notification sent is left as it was")

	// The same body on every attempt, so a receiver can deduplicate.
	n.Deliveries[0].Attempts = append(n.Deliveries[0].Attempts, schema.Attempt{At: 2})
	require.NoError(t, s.Send(context.Background(), n))
	require.Equal(t, got.body, r.requests()[1].body)
}

func TestWebhookWithoutSecretIsNotSigned(t *testing.T) {
	r := newReceiver(t, nil)
	require.NoError(t, newSender(t, Config{Type: TypeWebhook, URL: r.URL}).Send(context.Background(), notification()))
	require.Empty(t, r.requests()[0].header.Get(HeaderSignature))
}

func TestWebhookTemplate(t *testing.T) {
	r := newReceiver(t, nil)
	s := newSender(t, Config{Type: TypeWebhook, URL: r.URL, ContentType: "text/plain",
		Template: `{{.State}} {{.Rule}} {{json .Title}} {{range $k, $v := .Labels}}{{$k}}={{$v}}{{end}} {{len .Deliveries}}`})
	require.NoError(t, s.Send(context.Background(), notification()))
	got := r.requests()[0]
	require.Equal(t, `firing failed "Skill failed" task_id=t1 0`, string(got.body))
	require.Equal(t, "text/plain", got.header.Get("Content-Type"))

	big := newSender(t, Config{Type: TypeWebhook, URL: r.URL, Template: `{{printf "%300000d" 1}}`})
	e := asError(t, big.Send(context.Background(), notification()))
	require.True(t, e.Permanent)
	require.Contains(t, e.Error(), "over 256 KiB")
	require.Len(t, r.requests(), 1, "a body over the cap is not sent")

	missing := newSender(t, Config{Type: TypeWebhook, URL: r.URL, Template: `{{.Labels.nope}}`})
	require.True(t, asError(t, missing.Send(context.Background(), notification())).Permanent, "missingkey=error")
}

// Each answer of a receiver says whether and when to try again.
func TestWebhookAnswers(t *testing.T) {
	f := func(status int, header map[string]string, permanent bool, retryAfter time.Duration) {
		t.Helper()
		r := newReceiver(t, func(w http.ResponseWriter) {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
		})
		err := newSender(t, Config{Type: TypeWebhook, URL: r.URL}).Send(context.Background(), notification())
		if status < 300 {
			require.NoError(t, err)
			return
		}
		e := asError(t, err)
		require.Equal(t, status, e.Status)
		require.Equal(t, permanent, e.Permanent, "status %d", status)
		require.InDelta(t, retryAfter.Seconds(), e.RetryAfter.Seconds(), 1, "status %d", status)
	}
	f(http.StatusOK, nil, false, 0)
	f(http.StatusNoContent, nil, false, 0)
	f(http.StatusInternalServerError, nil, false, 0)
	f(http.StatusBadGateway, nil, false, 0)
	f(http.StatusBadRequest, nil, true, 0)
	f(http.StatusNotFound, nil, true, 0)
	f(http.StatusRequestTimeout, nil, false, 0)
	f(http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, false, 7*time.Second)
	f(http.StatusServiceUnavailable, map[string]string{"Retry-After": time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}, false, 30*time.Second)
	f(http.StatusTooManyRequests, map[string]string{"Retry-After": "soon"}, false, 0)
	f(http.StatusInternalServerError, map[string]string{"Retry-After": "7"}, false, 0)
}

// Errors are shown to tenants in the history of attempts, so they never
// quote a URL, whose path and userinfo carry tokens.
func TestPostErrorsDoNotQuoteURLs(t *testing.T) {
	for _, typ := range []string{TypeWebhook, TypeSlack} {
		s := newSender(t, Config{Type: typ, URL: "http://user:pw@127.0.0.1:1/services/T0/B0/SECRETTOKEN", Timeout: time.Second})
		e := asError(t, s.Send(context.Background(), notification()))
		require.False(t, e.Permanent, "a receiver that is down may come back")
		require.NotContains(t, e.Error(), "SECRETTOKEN")
		require.NotContains(t, e.Error(), "pw@")
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	r := newReceiver(t, func(http.ResponseWriter) { <-release })
	defer close(release)
	s := newSender(t, Config{Type: TypeWebhook, URL: r.URL, Timeout: 50 * time.Millisecond})
	start := time.Now()
	e := asError(t, s.Send(context.Background(), notification()))
	require.False(t, e.Permanent)
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, strings.Contains(e.Error(), "deadline") || strings.Contains(e.Error(), "Timeout"), e.Error())
}
