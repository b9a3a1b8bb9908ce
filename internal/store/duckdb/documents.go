package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
)

// upsertDocument replaces a stored document only with a higher version, so
// a replayed or late put never undoes a newer one.
const upsertDocument = `INSERT INTO documents (tenant, kind, id, version, body, updated_at, deleted)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, kind, id) DO UPDATE SET
    version = excluded.version, body = excluded.body,
    updated_at = excluded.updated_at, deleted = excluded.deleted
WHERE excluded.version > documents.version`

const selectDocument = `SELECT tenant, kind, id, version, body, updated_at, deleted FROM documents
WHERE tenant = ? AND kind = ? AND id = ? AND NOT deleted`

const selectDocuments = `SELECT tenant, kind, id, version, body, updated_at, deleted FROM documents
WHERE kind = ? AND (? = '' OR tenant = ?) AND NOT deleted
ORDER BY tenant, id`

// PutDocuments stores docs in one transaction.
func (s *Store) PutDocuments(ctx context.Context, docs ...store.Document) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	defer tx.Rollback()
	for _, d := range docs {
		if _, err := tx.ExecContext(ctx, upsertDocument, d.Tenant, d.Kind, d.ID, d.Version, string(d.Body), d.UpdatedAt, d.Deleted); err != nil {
			return fmt.Errorf("put document %s/%s: %w", d.Kind, d.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	return nil
}

// Document returns one live document.
func (s *Store) Document(ctx context.Context, tenant, kind, id string) (store.Document, error) {
	d, err := scanDocument(s.queryRow(ctx, selectDocument, tenant, kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("document %s/%s: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("read document %s/%s: %w", kind, id, err)
	}
	return d, nil
}

// Documents lists the live documents of a kind.
func (s *Store) Documents(ctx context.Context, tenant, kind string) ([]store.Document, error) {
	rows, err := s.query(ctx, selectDocuments, kind, tenant, tenant)
	if err != nil {
		return nil, fmt.Errorf("list documents %s: %w", kind, err)
	}
	defer rows.Close()
	var docs []store.Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("list documents %s: %w", kind, err)
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

func scanDocument(row interface{ Scan(...any) error }) (store.Document, error) {
	var d store.Document
	var body string
	err := row.Scan(&d.Tenant, &d.Kind, &d.ID, &d.Version, &body, &d.UpdatedAt, &d.Deleted)
	d.Body = []byte(body)
	return d, err
}
