// Package auth maps API keys to tenants. Every request names its tenant
// only through its key, never through its body, so a tenant can neither
// read nor write another's data.
package auth

import (
	"bufio"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// DefaultTenant is the tenant of every request when no keys are configured.
const DefaultTenant = "default"

// MinKeyLen is the shortest API key accepted: a key is the only secret
// between a tenant's data and anyone who can reach the server.
const MinKeyLen = 16

// Keys maps API keys to tenants. An empty Keys admits every request as
// DefaultTenant, which is safe only on a loopback listener.
type Keys map[string]string

// ParseKeys reads "key=tenant" pairs separated by commas or newlines;
// blank lines and lines starting with # are skipped.
func ParseKeys(s string) (Keys, error) {
	keys := Keys{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, tenant, ok := strings.Cut(line, "=")
		key, tenant = strings.TrimSpace(key), strings.TrimSpace(tenant)
		if !ok || key == "" || tenant == "" {
			return nil, fmt.Errorf("api key entry %q: want key=tenant", redact(line))
		}
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("api key entry %q: a key must be at least %d characters, long enough not to be guessed", redact(line), MinKeyLen)
		}
		if _, dup := keys[key]; dup {
			return nil, fmt.Errorf("api key entry %q: key listed twice", redact(line))
		}
		keys[key] = tenant
	}
	return keys, nil
}

// LoadKeys merges the keys of a "key=tenant" list and of a file in the
// same format (either may be empty).
func LoadKeys(list, file string) (Keys, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read api keys file: %w", err)
		}
		list = list + "\n" + string(b)
	}
	return ParseKeys(list)
}

func redact(line string) string {
	key, rest, _ := strings.Cut(line, "=")
	if len(key) > 4 {
		key = key[:4] + "…"
	}
	return key + "=" + rest
}

const tenantLocal = "taskpulse.tenant"

// Guard limits failed authentications by remote address. Blocked runs
// before the key is looked at, so that an address past its limit learns
// nothing of its guesses and costs no key comparisons; Failed counts a
// request refused for its key.
type Guard interface {
	// Blocked reports whether addr has failed too often, and if so how
	// long until it may try again.
	Blocked(addr string) (retryAfter time.Duration, blocked bool)
	// Failed counts a failed authentication from addr.
	Failed(addr string)
}

// Option changes what Middleware does.
type Option func(*options)

type options struct{ guard Guard }

// WithGuard makes Middleware refuse, with 429, addresses g says failed too
// often, and report failures to g. A nil g guards nothing.
func WithGuard(g Guard) Option { return func(o *options) { o.guard = g } }

// Middleware admits requests that carry a known key, in the Authorization
// header ("Bearer KEY"), the X-API-Key header, or, for WebSocket clients
// that cannot set headers, the api_key query parameter. It records the
// key's tenant for Tenant.
func (k Keys) Middleware(opts ...Option) fiber.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(c *fiber.Ctx) error {
		if len(k) == 0 {
			c.Locals(tenantLocal, DefaultTenant)
			return c.Next()
		}
		// c.IP is the peer's address unless the app is configured to trust
		// a proxy header; a client-sent X-Forwarded-For would let anyone
		// pick a fresh address per guess.
		if o.guard != nil {
			if wait, blocked := o.guard.Blocked(c.IP()); blocked {
				return &httpx.Error{
					Status:     fiber.StatusTooManyRequests,
					Code:       httpx.CodeRateLimited,
					Message:    "too many requests with a wrong API key from this address; retry later",
					RetryAfter: max(1, int((wait+time.Second-1)/time.Second)),
				}
			}
		}
		tenant, ok := k.lookup(requestKey(c))
		if !ok {
			if o.guard != nil {
				o.guard.Failed(c.IP())
			}
			return httpx.NewError(fiber.StatusUnauthorized, httpx.CodeUnauthorized, "a valid API key is required (Authorization: Bearer KEY)")
		}
		c.Locals(tenantLocal, tenant)
		return c.Next()
	}
}

func requestKey(c *fiber.Ctx) string {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		if key, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(key)
		}
	}
	if h := c.Get("X-API-Key"); h != "" {
		return h
	}
	return c.Query("api_key")
}

// lookup compares in constant time so that response times do not reveal
// how much of a key was right.
func (k Keys) lookup(key string) (string, bool) {
	found, tenant := false, ""
	for candidate, t := range k {
		if subtle.ConstantTimeCompare([]byte(candidate), []byte(key)) == 1 {
			found, tenant = true, t
		}
	}
	return tenant, found
}

// Tenant returns the tenant Middleware admitted the request as. The
// string is safe to keep after the handler returns.
func Tenant(c *fiber.Ctx) string {
	t, _ := c.Locals(tenantLocal).(string)
	if t == "" {
		panic("BUG: auth.Tenant called on a route without auth.Middleware")
	}
	return t
}
