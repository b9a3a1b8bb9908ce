package stream

// Error is what the server answers a message it cannot act on, as
// {"type":"error","code":...,"message":...}; the connection stays open.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes are stable: clients branch on them, so never rename one.
const (
	// CodeInvalidJSON: the message was not one JSON object.
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidMessage: an unknown type, a message that does not name
	// exactly one subscription, or a subscription that is not valid.
	CodeInvalidMessage = "invalid_message"
	// CodeAlreadySubscribed: the connection already has that subscription.
	CodeAlreadySubscribed = "already_subscribed"
	// CodeNotSubscribed: an unsubscribe named a subscription the
	// connection does not have.
	CodeNotSubscribed = "not_subscribed"
	// CodeTooManySubscriptions: the connection is at Config.MaxSubscriptions.
	CodeTooManySubscriptions = "too_many_subscriptions"
	// CodeSnapshotFailed: the store could not give the snapshot, so the
	// subscription was not made; the client may try again.
	CodeSnapshotFailed = "snapshot_failed"
	// CodeInternal: something went wrong on the server.
	CodeInternal = "internal"
	// CodeUpgradeRequired is the HTTP error code of a plain GET on the
	// stream endpoint (status 426).
	CodeUpgradeRequired = "upgrade_required"
	// CodeNotLive is the HTTP error code of a connect request made while
	// the stream is starting and not yet following the bus (status 503,
	// with Retry-After).
	CodeNotLive = "not_live"
)

// Close codes the server ends a connection with, besides the standard 1000
// (the client closed) and 1001 (the server is shutting down).
const (
	// CloseSlowConsumer: the connection could not keep up even after
	// coalescing. The client should reconnect; it gets fresh snapshots.
	CloseSlowConsumer = 4000
)
