package channel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// The channel types a Config may name.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeEmail   = "email"
)

// Sender makes one attempt at delivering a notification.
type Sender interface {
	// Send returns nil once the receiver has accepted n. Any other answer
	// is an *Error, or an error that wraps one when the failure came from
	// the receiver.
	Send(ctx context.Context, n *schema.Notification) error
}

// Error describes a failed attempt well enough to decide on the next one.
type Error struct {
	// Status is the HTTP status, or the SMTP reply code, when the
	// receiver answered.
	Status int
	// RetryAfter is how long the receiver asked to be left alone (HTTP
	// 429 and 503 with Retry-After).
	RetryAfter time.Duration
	// Permanent means retrying cannot help: the receiver refused the
	// request itself (most 4xx answers, SMTP 5xx replies).
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// AsError returns err's *Error, or a temporary one wrapping err: a
// failure that says nothing about itself is worth another attempt.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Err: err}
}

// Config is one channel as the rules file declares it. Which fields apply
// depends on Type.
type Config struct {
	Type string `yaml:"type"`

	// Webhook and Slack.
	URL string `yaml:"url"`
	// Secret signs webhook bodies (header X-TaskPulse-Signature).
	Secret string `yaml:"secret"`
	// Template, a Go text/template over the notification, replaces the
	// webhook's JSON body.
	Template    string            `yaml:"template"`
	ContentType string            `yaml:"content_type"`
	Headers     map[string]string `yaml:"headers"`

	// Email.
	SMTP     string   `yaml:"smtp"` // host:port
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// TLSCAFile, a PEM bundle, replaces the system roots for STARTTLS.
	TLSCAFile string `yaml:"tls_ca_file"`
	// RequireTLS refuses to send when the server does not offer STARTTLS.
	RequireTLS bool `yaml:"require_tls"`

	// Timeout bounds one attempt; 10s when zero.
	Timeout time.Duration `yaml:"timeout"`
}

// FieldError names a field of a channel's Config and what is wrong with it.
type FieldError struct {
	Field  string
	Reason string
}

func (e FieldError) Error() string { return e.Field + " " + e.Reason }

const defaultTimeout = 10 * time.Second

// Validate lists every problem of c.
func (c *Config) Validate() []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{field, reason}) }
	if c.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	switch c.Type {
	case TypeWebhook, TypeSlack:
		checkURL(add, c.URL)
		if c.Type == TypeWebhook && c.Template != "" {
			if _, err := parseTemplate(c.Template); err != nil {
				add("template", "does not parse: "+err.Error())
			}
		}
	case TypeEmail:
		if c.SMTP == "" {
			add("smtp", "is required (host:port)")
		} else if _, _, err := splitHostPort(c.SMTP); err != nil {
			add("smtp", "must be host:port")
		}
		if c.From == "" {
			add("from", "is required")
		}
		if len(c.To) == 0 {
			add("to", "must list at least one address")
		}
		if c.TLSCAFile != "" {
			if _, err := loadRoots(c.TLSCAFile); err != nil {
				add("tls_ca_file", err.Error())
			}
		}
	case "":
		add("type", "is required (webhook, slack or email)")
	default:
		add("type", "must be webhook, slack or email")
	}
	return errs
}

// Transport is how channels reach their receivers.
type Transport struct {
	// Client carries webhook and Slack requests.
	Client *http.Client
	// Dial opens SMTP connections; a net.Dialer's when nil.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New makes the Sender c describes.
func New(c Config, t Transport) (Sender, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("channel config: %w", errs[0])
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	switch c.Type {
	case TypeWebhook:
		return newWebhook(c, t.Client)
	case TypeSlack:
		return &slack{url: c.URL, timeout: c.Timeout, client: t.Client}, nil
	default:
		return newEmail(c, t.Dial)
	}
}
