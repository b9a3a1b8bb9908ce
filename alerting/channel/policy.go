package channel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Policy decides which hosts channels made by tenants may reach. By
// default it refuses every address that leads inside the operator's
// network rather than to the receiver a tenant names: loopback,
// link-local (cloud metadata services live there), private, shared
// (CGNAT), unspecified and multicast addresses. Allow entries lift that
// for the hosts and networks they name; deny entries refuse whatever
// they name, whatever else is allowed.
//
// Addresses are checked when a channel is made and again on every
// connection, on the address actually dialled, so that a name resolving
// to another address later (DNS rebinding) gains nothing.
type Policy struct {
	allow, deny hostRules
	resolve     Resolver
}

// hostRules are host names (exact, or "*.example.com" for every name
// under example.com) and networks.
type hostRules struct {
	names    []string
	suffixes []string
	prefixes []netip.Prefix
}

// NewPolicy reads allow and deny entries: IP addresses, CIDR networks
// and host names. resolve is the DNS when nil.
func NewPolicy(allow, deny []string, resolve Resolver) (*Policy, error) {
	p := &Policy{resolve: resolve}
	var err error
	if p.allow, err = parseHostRules(allow); err != nil {
		return nil, fmt.Errorf("allow list: %w", err)
	}
	if p.deny, err = parseHostRules(deny); err != nil {
		return nil, fmt.Errorf("deny list: %w", err)
	}
	if p.resolve == nil {
		p.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return p, nil
}

func parseHostRules(entries []string) (hostRules, error) {
	var r hostRules
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return r, fmt.Errorf("%q is not a CIDR network", e)
			}
			r.prefixes = append(r.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				a = a.Unmap()
				r.prefixes = append(r.prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			name := normalHost(e)
			if sfx, ok := strings.CutPrefix(name, "*."); ok && validHostName(sfx) {
				r.suffixes = append(r.suffixes, "."+sfx)
				continue
			}
			if !validHostName(name) {
				return r, fmt.Errorf("%q is not an IP address, a CIDR network or a host name", e)
			}
			r.names = append(r.names, name)
		}
	}
	return r, nil
}

func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func (r *hostRules) matchName(name string) bool {
	for _, n := range r.names {
		if n == name {
			return true
		}
	}
	for _, s := range r.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func (r *hostRules) matchAddr(a netip.Addr) bool {
	for _, p := range r.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// RefusedError is a host or address the policy does not let a channel
// reach. It never holds a URL, which may carry secrets.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

var (
	sharedNet = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	broadcast = netip.MustParseAddr("255.255.255.255")
)

// internal names the kind of an address that leads inside the network,
// or "" for an address on the internet.
func internal(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	case a.IsUnspecified(), thisNet.Contains(a):
		return "unspecified"
	case a.IsMulticast(), a == broadcast:
		return "multicast"
	case sharedNet.Contains(a):
		return "shared (CGNAT)"
	}
	return ""
}

// check decides whether host, resolved to a, may be reached.
func (p *Policy) check(host string, a netip.Addr) error {
	a = a.Unmap().WithZone("")
	name := normalHost(host)
	if p.deny.matchName(name) || p.deny.matchAddr(a) {
		return &RefusedError{"the host is on the operator's deny list"}
	}
	if p.allow.matchName(name) || p.allow.matchAddr(a) {
		return nil
	}
	if kind := internal(a); kind != "" {
		return &RefusedError{"the host has a " + kind + " address, which the operator does not allow channels to reach"}
	}
	return nil
}

// lookupTimeout bounds the resolution of a host while a channel is made.
const lookupTimeout = 5 * time.Second

// addrs resolves host (an IP literal is its own address) and keeps those
// the policy allows; it fails when none is.
func (p *Policy) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var all []netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		all = []netip.Addr{a}
	} else {
		if p.deny.matchName(normalHost(host)) {
			return nil, &RefusedError{"the host is on the operator's deny list"}
		}
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		all, err = p.resolve(ctx, host)
		if err != nil || len(all) == 0 {
			return nil, &RefusedError{"the host does not resolve"}
		}
	}
	var ok []netip.Addr
	var refused error
	for _, a := range all {
		if err := p.check(host, a); err != nil {
			refused = err
			continue
		}
		ok = append(ok, a.Unmap())
	}
	// One refused address refuses the host: which address a connection
	// gets is not the tenant's to choose, nor is the order of answers.
	if refused != nil {
		return nil, refused
	}
	return ok, nil
}

// CheckURL refuses a webhook or Slack URL that is not http(s) with a
// host, or whose host the policy does not let channels reach.
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return &RefusedError{"must be an http or https URL with a host"}
	}
	_, err = p.addrs(ctx, u.Hostname())
	return err
}

// CheckHostPort refuses an SMTP address (host:port) whose host the
// policy does not let channels reach.
func (p *Policy) CheckHostPort(ctx context.Context, hostport string) error {
	host, _, err := splitHostPort(hostport)
	if err != nil {
		return &RefusedError{"must be host:port"}
	}
	_, err = p.addrs(ctx, host)
	return err
}

// DialContext connects as a net.Dialer does, to an address the policy
// allows: it resolves the host itself and dials the addresses it
// checked, and a Control hook checks the address of the socket once
// more, so nothing between the check and the connection can swap it.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := p.addrs(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{"cannot read the address dialled"}
		}
		return p.check(host, ap.Addr())
	}}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// Transport reaches receivers only through p: no proxy (which would
// connect for us, past the check), no redirects (which would lead
// elsewhere than the URL checked), and every connection, HTTP or SMTP,
// dialled by p. answerTimeout bounds the wait for an answer's headers.
func (p *Policy) Transport(answerTimeout time.Duration) Transport {
	tr := &http.Transport{
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: answerTimeout,
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return Transport{Client: client, Dial: p.DialContext}
}
