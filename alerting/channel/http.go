package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

func checkURL(add func(string, string), raw string) {
	if raw == "" {
		add("url", "is required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "must be an http or https URL")
	}
}

// post sends body and turns the answer into nil or an *Error.
func post(ctx context.Context, client *http.Client, timeout time.Duration, target string, body []byte, header http.Header) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &Error{Permanent: true, Err: errors.New("build request: the URL cannot be used")}
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the URL, and URLs carry tokens (Slack's path,
		// userinfo); the history of attempts is shown to tenants.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &Error{Permanent: refused(err), Err: fmt.Errorf("post: %w", err)}
	}
	// Drain a little so the connection can be reused, but never let a
	// receiver make us read without end.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &Error{Status: resp.StatusCode, Err: fmt.Errorf("receiver answered %s", resp.Status)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	case resp.StatusCode == http.StatusRequestTimeout:
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// The receiver refuses the request itself; sending it again
		// would be refused again.
		e.Permanent = true
	}
	return e
}

// refused reports whether err is the policy refusing the receiver's
// address, which another attempt would meet again.
func refused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
