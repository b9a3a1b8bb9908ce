package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"text/template"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// Headers every webhook request carries.
const (
	HeaderSignature      = "X-TaskPulse-Signature"
	HeaderNotificationID = "X-TaskPulse-Notification-Id"
)

type webhook struct {
	url         string
	secret      string
	tmpl        *template.Template
	contentType string
	headers     map[string]string
	timeout     time.Duration
	client      *http.Client
}

func newWebhook(c Config, client *http.Client) (*webhook, error) {
	w := &webhook{url: c.URL, secret: c.Secret, contentType: c.ContentType, headers: c.Headers, timeout: c.Timeout, client: client}
	if w.contentType == "" {
		w.contentType = "application/json"
	}
	if c.Template != "" {
		t, err := parseTemplate(c.Template)
		if err != nil {
			return nil, fmt.Errorf("webhook template: %w", err)
		}
		w.tmpl = t
	}
	return w, nil
}

func (w *webhook) Send(ctx context.Context, n *schema.Notification) error {
	body, err := w.body(n)
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	h := http.Header{}
	for k, v := range w.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", w.contentType)
	h.Set(HeaderNotificationID, n.ID)
	if w.secret != "" {
		h.Set(HeaderSignature, Sign(w.secret, time.Now().Unix(), body))
	}
	return post(ctx, w.client, w.timeout, w.url, body, h)
}

// body renders n without its delivery history and read and sent times,
// which are ours and change between attempts: receivers get the same body
// on every attempt.
func (w *webhook) body(n *schema.Notification) ([]byte, error) {
	out := *n
	out.Deliveries, out.SentAt, out.ReadAt = nil, 0, 0
	if w.tmpl == nil {
		b, err := json.Marshal(&out)
		if err != nil {
			return nil, fmt.Errorf("encode notification: %w", err)
		}
		return b, nil
	}
	buf := &cappedWriter{max: maxRendered}
	if err := w.tmpl.Execute(buf, &out); err != nil {
		return nil, fmt.Errorf("render webhook template: %w", err)
	}
	return buf.buf, nil
}
