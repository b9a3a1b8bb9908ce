package alerting

import (
	"errors"
	"fmt"
	"time"

	"github.com/taskpulse/taskpulse/alerting/channel"
)

// DefaultGroup is the consumer group in which alerting processes share
// the delivery of notifications.
const DefaultGroup = "taskpulse-alerting"

const (
	defaultRateAfter = 5 * time.Minute
	// minInterval keeps a query rule from hammering the store.
	minInterval = 10 * time.Millisecond
)

// Config tunes alerting. Zero fields take the defaults noted.
type Config struct {
	// RulesFile is the YAML file of rules and channels; none when empty.
	RulesFile string
	// Group is the consumer group that delivers notifications.
	Group string
	// TaskCheckInterval is how often task rules are checked for what no
	// event announces (a stall, a slow run). Default 5s.
	TaskCheckInterval time.Duration
	// RefreshInterval is how often rules made through the API on another
	// process are picked up. Default 30s.
	RefreshInterval time.Duration
	// DefaultInterval applies to query rules that set none. Default 1m.
	DefaultInterval time.Duration
	// DefaultRepeatInterval applies to rules that set none. Default 4h.
	DefaultRepeatInterval time.Duration
	// TaskRetention is how long a finished task is remembered, so that a
	// failed task keeps its alert and a restart finds the failures of
	// that period again. Default 1h.
	TaskRetention time.Duration
	// ResolvedRetention is how long a resolved alert is kept before it is
	// forgotten. Default 1h.
	ResolvedRetention time.Duration
	Delivery          DeliveryConfig
	// ChannelAllow and ChannelDeny are hosts and networks (IP addresses,
	// CIDR networks, host names, *.example.com) that channels made by
	// tenants may, or may not, reach. Without them a tenant's channel may
	// reach any address but the internal ones (loopback, link-local,
	// private, shared, unspecified, multicast); an allow entry lifts
	// that, a deny entry refuses whatever it names. The channels of the
	// rules file are the operator's and not bound by either.
	ChannelAllow, ChannelDeny []string
	// Resolve looks up the hosts of tenants' channels; the DNS when nil.
	Resolve channel.Resolver
}

// DeliveryConfig bounds the delivery of a notification on one channel.
type DeliveryConfig struct {
	// MaxAttempts is how many attempts are made before giving up.
	// Default 8.
	MaxAttempts int
	// RetryMin and RetryMax bound the exponential backoff between
	// attempts. Default 1s and 1m.
	RetryMin, RetryMax time.Duration
	// MaxRetryAfter caps how long a receiver's Retry-After is honoured.
	// Default 5m.
	MaxRetryAfter time.Duration
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration
}

func (c *Config) fillDefaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.TaskCheckInterval, 5*time.Second)
	def(&c.RefreshInterval, 30*time.Second)
	def(&c.DefaultInterval, time.Minute)
	def(&c.DefaultRepeatInterval, 4*time.Hour)
	def(&c.TaskRetention, time.Hour)
	def(&c.ResolvedRetention, time.Hour)
	def(&c.Delivery.RetryMin, time.Second)
	def(&c.Delivery.RetryMax, time.Minute)
	def(&c.Delivery.MaxRetryAfter, 5*time.Minute)
	def(&c.Delivery.Timeout, 10*time.Second)
	if c.Delivery.MaxAttempts == 0 {
		c.Delivery.MaxAttempts = 8
	}
}

// Validate reports every setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New("alerting: "+msg))
		}
	}
	check(c.Group != "", "group must be set")
	check(c.TaskCheckInterval > 0, "task check interval must be positive")
	check(c.RefreshInterval > 0, "refresh interval must be positive")
	check(c.DefaultInterval >= minInterval, "default interval must be at least "+minInterval.String())
	check(c.DefaultRepeatInterval > 0, "default repeat interval must be positive")
	check(c.TaskRetention > 0, "task retention must be positive")
	check(c.ResolvedRetention > 0, "resolved retention must be positive")
	d := c.Delivery
	check(d.MaxAttempts > 0, "delivery max attempts must be positive")
	check(d.RetryMin > 0 && d.RetryMax >= d.RetryMin, "delivery backoff must be positive, min <= max")
	check(d.MaxRetryAfter > 0, "delivery max retry-after must be positive")
	check(d.Timeout > 0, "delivery timeout must be positive")
	if _, err := channel.NewPolicy(c.ChannelAllow, c.ChannelDeny, nil); err != nil {
		errs = append(errs, fmt.Errorf("alerting: channel %w", err))
	}
	return errors.Join(errs...)
}
