package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestJitterStaysWithinHalfAndWhole(t *testing.T) {
	for range 1000 {
		if d := Jitter(100 * time.Millisecond); d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("Jitter(100ms) = %v", d)
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on an ended context reported a full wait")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep did not report a full wait")
	}
}

func TestWaitDoublesUpToMax(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	f := func(n int, want time.Duration) {
		t.Helper()
		for range 100 {
			if d := p.Wait(n); d < want/2 || d > want {
				t.Fatalf("Wait(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
	f(1, 10*time.Millisecond)
	f(2, 20*time.Millisecond)
	f(3, 40*time.Millisecond)
	f(4, 50*time.Millisecond)
	f(100, 50*time.Millisecond)
}

// failing fails n times with err, then succeeds, recording the waits
// Retry reports.
type failing struct {
	n, calls int
	err      error
	waits    []time.Duration
}

func (f *failing) call(context.Context) error {
	f.calls++
	if f.calls <= f.n {
		return f.err
	}
	return nil
}

func (f *failing) policy(p Policy) Policy {
	p.OnRetry = func(_ error, wait time.Duration) { f.waits = append(f.waits, wait) }
	return p
}

func TestRetry(t *testing.T) {
	boom := errors.New("boom")
	ctx := context.Background()

	t.Run("until success", func(t *testing.T) {
		f := &failing{n: 3, err: boom}
		if err := Retry(ctx, f.policy(Policy{Min: time.Millisecond, Max: 2 * time.Millisecond}), f.call); err != nil {
			t.Fatal(err)
		}
		if f.calls != 4 || len(f.waits) != 3 {
			t.Fatalf("calls %d, waits %v", f.calls, f.waits)
		}
	})

	t.Run("attempts", func(t *testing.T) {
		f := &failing{n: 10, err: boom}
		if err := Retry(ctx, f.policy(Policy{Min: time.Millisecond, Max: time.Millisecond, Attempts: 3}), f.call); !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
		if f.calls != 3 || len(f.waits) != 2 {
			t.Fatalf("calls %d, waits %v: the last failure is not retried", f.calls, f.waits)
		}
	})

	t.Run("permanent", func(t *testing.T) {
		f := &failing{n: 10, err: Permanent(boom)}
		err := Retry(ctx, f.policy(Policy{Min: time.Hour, Max: time.Hour}), f.call)
		if err != boom {
			t.Fatalf("err %v, want boom unmarked", err)
		}
		if f.calls != 1 {
			t.Fatalf("calls %d", f.calls)
		}
	})

	t.Run("hint", func(t *testing.T) {
		f := &failing{n: 2, err: After(3*time.Millisecond, boom)}
		if err := Retry(ctx, f.policy(Policy{Min: time.Hour, Max: time.Hour, MaxHint: 2 * time.Millisecond}), f.call); err != nil {
			t.Fatal(err)
		}
		for _, w := range f.waits {
			if w != 2*time.Millisecond {
				t.Fatalf("waits %v: a hint replaces the policy's wait, capped by MaxHint", f.waits)
			}
		}
	})

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		f := &failing{n: 10, err: boom}
		p := f.policy(Policy{Min: time.Hour, Max: time.Hour})
		p.OnRetry = func(error, time.Duration) { cancel() }
		if err := Retry(ctx, p, f.call); !errors.Is(err, boom) {
			t.Fatalf("err %v, want the last failure", err)
		}
		if f.calls != 1 {
			t.Fatalf("calls %d", f.calls)
		}
	})

	t.Run("reset after a long call", func(t *testing.T) {
		calls := 0
		var waits []time.Duration
		p := Policy{Min: time.Millisecond, Max: time.Second, ResetAfter: 5 * time.Millisecond,
			OnRetry: func(_ error, w time.Duration) { waits = append(waits, w) }}
		err := Retry(ctx, p, func(context.Context) error {
			calls++
			switch calls {
			case 4:
				time.Sleep(10 * time.Millisecond) // ran a while, then failed
			case 5:
				return nil
			}
			return boom
		})
		if err != nil {
			t.Fatal(err)
		}
		if waits[2] < 2*time.Millisecond || waits[3] > time.Millisecond {
			t.Fatalf("waits %v: the third doubles, the fourth starts over", waits)
		}
	})
}

func TestMarksOfNilAreNil(t *testing.T) {
	if Permanent(nil) != nil || After(time.Second, nil) != nil {
		t.Fatal("a mark of nil is not nil")
	}
}
