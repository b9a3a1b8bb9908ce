package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/store"
)

// Channel is a channel a tenant made through the API: the fields of a
// channel of the rules file that a tenant may set. It is stored as an
// "alert_channel" document named by Name, so a tenant's names are its
// own. Answers carry it redacted (see redacted).
type Channel struct {
	Name string `json:"name"`
	Type string `json:"type"`

	// Webhook and Slack.
	URL         string            `json:"url,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	Template    string            `json:"template,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`

	// Email.
	SMTP       string   `json:"smtp,omitempty"`
	From       string   `json:"from,omitempty"`
	To         []string `json:"to,omitempty"`
	Username   string   `json:"username,omitempty"`
	Password   string   `json:"password,omitempty"`
	RequireTLS bool     `json:"require_tls,omitempty"`

	Timeout Duration `json:"timeout,omitempty"`

	Version   int64 `json:"version"`
	UpdatedAt int64 `json:"updated_at,omitempty"`
}

// kindChannel is the document kind of channels made through the API.
const kindChannel = "alert_channel"

// Bounds on a tenant's channel. Each field is far above what a real
// receiver needs; they keep a stored channel small.
const (
	maxURL          = 2048
	minSecret       = 16 // an HMAC key shorter than this is guessable
	maxSecret       = 256
	maxTemplate     = 8 << 10
	maxContentType  = 256
	maxHeaders      = 16
	maxHeaderName   = 128
	maxHeaderValue  = 1 << 10
	maxSMTP         = 512
	maxAddress      = 320 // the longest a mail address can be
	maxRecipients   = 10
	maxCredential   = 256
	minTimeout      = time.Second
	maxTimeout      = 30 * time.Second
	redactedMark    = "set"
	redactedURLPath = "/***"
)

// reservedHeaders are set by the channel or by HTTP itself.
var reservedHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Content-Type",
	channel.HeaderSignature, channel.HeaderNotificationID}

// redacted is c as an answer shows it: secrets replaced by "set", and
// URLs cut to their scheme and host, since paths and userinfo carry
// tokens (Slack's do). Sending it back unchanged keeps the stored values.
func (c Channel) redacted() Channel {
	if c.Secret != "" {
		c.Secret = redactedMark
	}
	if c.Password != "" {
		c.Password = redactedMark
	}
	if c.URL != "" {
		c.URL = redactURL(c.URL)
	}
	if len(c.Headers) > 0 {
		h := make(map[string]string, len(c.Headers))
		for k := range c.Headers {
			h[k] = redactedMark
		}
		c.Headers = h
	}
	return c
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactedMark
	}
	return u.Scheme + "://" + u.Host + redactedURLPath
}

// keepSecrets puts back the stored values of fields sent as an answer
// showed them, so a channel read can be changed and sent back.
func (c *Channel) keepSecrets(old Channel) {
	if c.Secret == redactedMark && old.Secret != "" {
		c.Secret = old.Secret
	}
	if c.Password == redactedMark && old.Password != "" {
		c.Password = old.Password
	}
	if old.URL != "" && c.URL == redactURL(old.URL) {
		c.URL = old.URL
	}
	for k, v := range c.Headers {
		if v == redactedMark && old.Headers[k] != "" {
			c.Headers[k] = old.Headers[k]
		}
	}
}

func (c *Channel) config() channel.Config {
	return channel.Config{Type: c.Type, URL: c.URL, Secret: c.Secret, Template: c.Template, ContentType: c.ContentType,
		Headers: c.Headers, SMTP: c.SMTP, From: c.From, To: c.To, Username: c.Username, Password: c.Password,
		RequireTLS: c.RequireTLS, Timeout: c.Timeout.D()}
}

// validate lists every problem of c, checking the hosts it names
// against the outbound policy.
func (c *Channel) validate(ctx context.Context, policy *channel.Policy) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{field, reason}) }
	if !channelName.MatchString(c.Name) {
		add("name", "must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
	if c.Timeout != 0 {
		checkDuration(add, "timeout", c.Timeout, minTimeout, maxTimeout)
	}
	// Fields of another type are refused rather than kept unused.
	notFor := func(field string, set bool) {
		if set {
			add(field, "does not apply to "+c.Type+" channels")
		}
	}
	switch c.Type {
	case channel.TypeWebhook, channel.TypeSlack:
		c.validateURL(ctx, add, policy)
		notFor("smtp", c.SMTP != "")
		notFor("from", c.From != "")
		notFor("to", len(c.To) > 0)
		notFor("username", c.Username != "")
		notFor("password", c.Password != "")
		notFor("require_tls", c.RequireTLS)
		if c.Type == channel.TypeSlack {
			notFor("secret", c.Secret != "")
			notFor("template", c.Template != "")
			notFor("content_type", c.ContentType != "")
			notFor("headers", len(c.Headers) > 0)
			break
		}
		c.validateWebhook(add)
	case channel.TypeEmail:
		notFor("url", c.URL != "")
		notFor("secret", c.Secret != "")
		notFor("template", c.Template != "")
		notFor("content_type", c.ContentType != "")
		notFor("headers", len(c.Headers) > 0)
		c.validateEmail(ctx, add, policy)
	case "":
		add("type", "is required (webhook, slack or email)")
	default:
		add("type", "must be webhook, slack or email")
	}
	return errs
}

func (c *Channel) validateURL(ctx context.Context, add func(string, string), policy *channel.Policy) {
	switch {
	case c.URL == "":
		add("url", "is required")
	case len(c.URL) > maxURL:
		add("url", "must be at most "+itoa(maxURL)+" bytes")
	default:
		if err := policy.CheckURL(ctx, c.URL); err != nil {
			add("url", "cannot be used: "+err.Error())
		}
	}
}

func (c *Channel) validateWebhook(add func(string, string)) {
	if c.Secret != "" && (len(c.Secret) < minSecret || len(c.Secret) > maxSecret) {
		add("secret", "must be "+itoa(minSecret)+" to "+itoa(maxSecret)+" bytes")
	}
	if len(c.Template) > maxTemplate {
		add("template", "must be at most "+itoa(maxTemplate)+" bytes")
	} else if c.Template != "" {
		if err := channel.CheckTenantTemplate(c.Template); err != nil {
			add("template", err.Error())
		}
	}
	if c.ContentType != "" {
		if _, _, err := mime.ParseMediaType(c.ContentType); err != nil || len(c.ContentType) > maxContentType {
			add("content_type", "must be a media type of at most "+itoa(maxContentType)+" bytes")
		}
	}
	if len(c.Headers) > maxHeaders {
		add("headers", "must hold at most "+itoa(maxHeaders)+" headers")
		return
	}
	for _, k := range sortedKeys(c.Headers) {
		v := c.Headers[k]
		switch {
		case !headerName(k):
			add("headers", "names a header that is not a valid name of at most "+itoa(maxHeaderName)+" bytes")
		case isReserved(k):
			add("headers."+k, "is set by the channel itself")
		case len(v) > maxHeaderValue || !headerValue(v):
			add("headers."+k, "must be at most "+itoa(maxHeaderValue)+" bytes of visible characters, spaces and tabs")
		}
	}
}

func isReserved(name string) bool {
	for _, r := range reservedHeaders {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// headerName reports whether s is an HTTP token (RFC 9110).
func headerName(s string) bool {
	if s == "" || len(s) > maxHeaderName {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return true
}

func headerValue(s string) bool {
	for _, r := range s {
		if r != '\t' && unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (c *Channel) validateEmail(ctx context.Context, add func(string, string), policy *channel.Policy) {
	switch {
	case c.SMTP == "":
		add("smtp", "is required (host:port)")
	case len(c.SMTP) > maxSMTP:
		add("smtp", "must be at most "+itoa(maxSMTP)+" bytes")
	default:
		if err := policy.CheckHostPort(ctx, c.SMTP); err != nil {
			add("smtp", "cannot be used: "+err.Error())
		}
	}
	if c.From == "" {
		add("from", "is required")
	} else if !mailAddress(c.From) {
		add("from", "must be a mail address of at most "+itoa(maxAddress)+" bytes")
	}
	switch {
	case len(c.To) == 0:
		add("to", "must list at least one address")
	case len(c.To) > maxRecipients:
		add("to", "must list at most "+itoa(maxRecipients)+" addresses")
	}
	for i, to := range c.To {
		if !mailAddress(to) {
			add("to["+itoa(i)+"]", "must be a mail address of at most "+itoa(maxAddress)+" bytes")
		}
	}
	if len(c.Username) > maxCredential || !headerValue(c.Username) {
		add("username", "must be at most "+itoa(maxCredential)+" bytes, without control characters")
	}
	if len(c.Password) > maxCredential {
		add("password", "must be at most "+itoa(maxCredential)+" bytes")
	}
}

// mailAddress reports whether s is a bare address that can go into a
// header and an SMTP command as it is.
func mailAddress(s string) bool {
	if len(s) > maxAddress || !headerValue(s) {
		return false
	}
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s
}

// tenantChannels reads a tenant's channels.
func tenantChannels(ctx context.Context, docs store.DocumentStore, log *slog.Logger, tenant string) ([]Channel, error) {
	ds, err := docs.Documents(ctx, tenant, kindChannel)
	if err != nil {
		return nil, fmt.Errorf("read alert channels: %w", err)
	}
	out := make([]Channel, 0, len(ds))
	for _, d := range ds {
		c, err := decodeChannel(d)
		if err != nil {
			log.Warn("skipping an alert channel that does not decode", "tenant", tenant, "id", d.ID, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func decodeChannel(d store.Document) (Channel, error) {
	var c Channel
	if err := json.Unmarshal(d.Body, &c); err != nil {
		return c, fmt.Errorf("decode alert channel %s: %w", d.ID, err)
	}
	c.Name, c.Version = d.ID, d.Version
	return c, nil
}
