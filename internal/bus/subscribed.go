package bus

import "context"

type onSubscribedKey struct{}

// OnSubscribed returns a context that makes Subscribe call fn once its
// place in every topic is fixed: from then on each record published is
// sure to reach its handler. A subscriber that must not miss what follows
// a read of the store (a stream's snapshot) waits for it.
func OnSubscribed(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, onSubscribedKey{}, fn)
}

// Subscribed is what implementations of Subscribe call once their place
// in every topic is fixed; it runs the function OnSubscribed attached to
// ctx, if any.
func Subscribed(ctx context.Context) {
	if fn, ok := ctx.Value(onSubscribedKey{}).(func()); ok {
		fn()
	}
}
