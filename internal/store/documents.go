package store

import "context"

// Document is a small, mutable record kept whole: an alert rule, an
// alert's state, a silence, a notification and its deliveries. Kind names
// what it is; Body is its JSON. Documents suit state that is read and
// written a record at a time and stays small, which is why alerting keeps
// its state in them instead of in tables of its own.
type Document struct {
	Tenant    string
	Kind      string
	ID        string
	Version   int64 // must grow with every put of the same document
	Body      []byte
	UpdatedAt int64 // unix ms
	Deleted   bool
}

// DocumentStore keeps documents.
//
//   - A put whose Version is not above the stored one changes nothing, so
//     replays and concurrent writers converge on the highest version.
//   - A deleted document is a put with Deleted set; reads skip it, and it
//     still takes part in versioning, so a stale put cannot resurrect it.
type DocumentStore interface {
	PutDocuments(ctx context.Context, docs ...Document) error
	// Document returns one document, or ErrNotFound (also when deleted).
	Document(ctx context.Context, tenant, kind, id string) (Document, error)
	// Documents lists the documents of a kind, of one tenant or, with
	// tenant "", of every tenant, ordered by tenant and id.
	Documents(ctx context.Context, tenant, kind string) ([]Document, error)
}
