package apifuzz

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// Result is what became of one case.
type Result struct {
	// Status is the answer's status, 0 when there was no answer.
	Status int
	// Answer describes the answer, clipped, for failure messages.
	Answer string
	// Err is why there was no answer.
	Err error
	// Problems lists what is wrong with the answer by the document.
	Problems []string
}

// OK reports whether the case got an answer the document allows.
func (r Result) OK() bool { return r.Err == nil && len(r.Problems) == 0 }

// answer is an HTTP answer as it came.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s %s", a.status, a.header.Get("Content-Type"), clip(string(a.body), 600))
}

var client = &http.Client{Timeout: 20 * time.Second}

// Run sends c to the target and checks the answer against the document.
func Run(ctx context.Context, t Target, c *Case) Result {
	a, err := send(ctx, t, c)
	if err != nil {
		return Result{Err: err}
	}
	return Result{Status: a.status, Answer: a.String(), Problems: check(c, a)}
}

func send(ctx context.Context, t Target, c *Case) (answer, error) {
	if c.upgrade {
		return dial(ctx, t, c)
	}
	var body io.Reader = http.NoBody
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.op.Method, t.BaseURL, body)
	if err != nil {
		return answer{}, err
	}
	// The path and query go out exactly as made, escapes and all.
	req.URL.Opaque, req.URL.RawQuery = c.path, c.queryString()
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, err
}

func dial(ctx context.Context, t Target, c *Case) (answer, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(t.BaseURL, "http")+c.target(), c.header)
	if resp == nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if conn != nil {
		conn.Close()
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}
