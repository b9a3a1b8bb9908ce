package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
)

// The documents table keeps, per (tenant, kind, id), the row of the highest
// version (ReplacingMergeTree), but of rows of equal versions it keeps the
// last stored, where the contract wants a put that is not above the stored
// version to change nothing. So PutDocuments reads the stored versions
// first and writes only the documents above them. Two writers that put the
// same version at the same moment can both pass that check, and the later
// one then wins; alerting, which writes documents, reads a document back
// after writing it and tries again when it lost.
const (
	documentColumns = `tenant, kind, id, version, body, updated_at, deleted`
	insertDocument  = `INSERT INTO documents (` + documentColumns + `)`

	// selectStoredVersions reads the highest stored version of the
	// documents named by the (tenant, kind, id) triples bound. The highest
	// version is the winning row's, so no FINAL is needed.
	selectStoredVersions = `SELECT tenant, kind, id, max(version)
FROM documents
PREWHERE (tenant, kind, id) IN ?
GROUP BY tenant, kind, id`

	// selectDocuments filters deleted rows after FINAL, so a tombstone hides
	// every older version. %s adds key conditions to the PREWHERE.
	selectDocuments = `SELECT tenant, kind, id, version, body, updated_at
FROM documents FINAL
PREWHERE kind = ?%s
WHERE deleted = 0
ORDER BY tenant, id`
)

type docKey struct{ tenant, kind, id string }

// PutDocuments stores the documents of docs that are above the stored
// version, and above every earlier one of docs, as one block.
func (s *Store) PutDocuments(ctx context.Context, docs ...store.Document) error {
	if len(docs) == 0 {
		return nil
	}
	stored, err := s.storedVersions(ctx, docs)
	if err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	var newer []store.Document
	for _, d := range docs {
		k := docKey{d.Tenant, d.Kind, d.ID}
		if v, ok := stored[k]; ok && d.Version <= v {
			continue
		}
		stored[k] = d.Version
		newer = append(newer, d)
	}
	if len(newer) == 0 {
		return nil
	}
	err = s.insertRows(ctx, insertDocument, len(newer), func(i int) []any {
		d := &newer[i]
		return []any{d.Tenant, d.Kind, d.ID, d.Version, string(d.Body), d.UpdatedAt, d.Deleted}
	})
	if err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	return nil
}

func (s *Store) storedVersions(ctx context.Context, docs []store.Document) (map[docKey]int64, error) {
	triples := make([]any, len(docs))
	for i, d := range docs {
		triples[i] = clickhouse.GroupSet{Value: []any{d.Tenant, d.Kind, d.ID}}
	}
	type version struct {
		k docKey
		v int64
	}
	versions, err := collect(ctx, s.conn, func(r driver.Rows) (version, error) {
		var v version
		return v, r.Scan(&v.k.tenant, &v.k.kind, &v.k.id, &v.v)
	}, selectStoredVersions, clickhouse.GroupSet{Value: triples})
	if err != nil {
		return nil, fmt.Errorf("read stored versions: %w", err)
	}
	stored := make(map[docKey]int64, len(docs))
	for _, v := range versions {
		stored[v.k] = v.v
	}
	return stored, nil
}

// Document returns one live document, or store.ErrNotFound.
func (s *Store) Document(ctx context.Context, tenant, kind, id string) (store.Document, error) {
	docs, err := s.queryDocuments(ctx, " AND tenant = ? AND id = ?", kind, tenant, id)
	if err != nil {
		return store.Document{}, fmt.Errorf("read document %s/%s: %w", kind, id, err)
	}
	if len(docs) == 0 {
		return store.Document{}, fmt.Errorf("document %s/%s: %w", kind, id, store.ErrNotFound)
	}
	return docs[0], nil
}

// Documents lists the live documents of a kind, of one tenant or, with
// tenant "", of every tenant.
func (s *Store) Documents(ctx context.Context, tenant, kind string) ([]store.Document, error) {
	cond, args := "", []any{kind}
	if tenant != "" {
		cond, args = " AND tenant = ?", append(args, tenant)
	}
	docs, err := s.queryDocuments(ctx, cond, args...)
	if err != nil {
		return nil, fmt.Errorf("list documents %s: %w", kind, err)
	}
	return docs, nil
}

func (s *Store) queryDocuments(ctx context.Context, cond string, args ...any) ([]store.Document, error) {
	return collect(ctx, s.conn, func(r driver.Rows) (store.Document, error) {
		var (
			d    store.Document
			body string
		)
		err := r.Scan(&d.Tenant, &d.Kind, &d.ID, &d.Version, &body, &d.UpdatedAt)
		d.Body = []byte(body)
		return d, err
	}, fmt.Sprintf(selectDocuments, cond), args...)
}
