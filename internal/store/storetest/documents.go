package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// testDocumentPutGetList puts documents of two kinds and reads them back.
func testDocumentPutGetList(t *testing.T, f *fixture) {
	s, tenant, ctx := f.s, f.tenant, f.ctx()
	require.NoError(t, s.PutDocuments(ctx,
		store.Document{Tenant: tenant, Kind: "rule", ID: "b", Version: 1, Body: []byte(`{"n":"b"}`), UpdatedAt: 10},
		store.Document{Tenant: tenant, Kind: "rule", ID: "a", Version: 1, Body: []byte(`{"n":"a"}`), UpdatedAt: 11},
		store.Document{Tenant: tenant, Kind: "silence", ID: "a", Version: 1, Body: []byte(`{}`), UpdatedAt: 12},
	))
	d, err := s.Document(ctx, tenant, "rule", "a")
	require.NoError(t, err)
	require.Equal(t, store.Document{Tenant: tenant, Kind: "rule", ID: "a", Version: 1, Body: []byte(`{"n":"a"}`), UpdatedAt: 11}, d)
	docs, err := s.Documents(ctx, tenant, "rule")
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, "a", docs[0].ID, "ordered by id")
	require.Equal(t, "b", docs[1].ID)
	_, err = s.Document(ctx, tenant, "rule", "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testDocumentOnlyHigherVersionsReplace expects a put at or below the
// stored version to change nothing.
func testDocumentOnlyHigherVersionsReplace(t *testing.T, f *fixture) {
	s, tenant, ctx := f.s, f.tenant, f.ctx()
	put := func(version int64, body string) {
		require.NoError(t, s.PutDocuments(ctx, store.Document{Tenant: tenant, Kind: "state", ID: "x", Version: version, Body: []byte(body), UpdatedAt: version}))
	}
	put(2, `"two"`)
	put(1, `"one"`)
	put(2, `"two again"`)
	d, err := s.Document(ctx, tenant, "state", "x")
	require.NoError(t, err)
	require.Equal(t, `"two"`, string(d.Body))
	put(3, `"three"`)
	d, err = s.Document(ctx, tenant, "state", "x")
	require.NoError(t, err)
	require.Equal(t, `"three"`, string(d.Body))
}

// testDocumentDeleteIsAVersionedTombstone expects a delete to hide a
// document from every read, and a stale put not to bring it back.
func testDocumentDeleteIsAVersionedTombstone(t *testing.T, f *fixture) {
	s, tenant, ctx := f.s, f.tenant, f.ctx()
	require.NoError(t, s.PutDocuments(ctx, store.Document{Tenant: tenant, Kind: "rule", ID: "x", Version: 1, Body: []byte(`1`)}))
	require.NoError(t, s.PutDocuments(ctx, store.Document{Tenant: tenant, Kind: "rule", ID: "x", Version: 2, Body: []byte(`2`), Deleted: true}))
	_, err := s.Document(ctx, tenant, "rule", "x")
	require.ErrorIs(t, err, store.ErrNotFound)
	docs, err := s.Documents(ctx, tenant, "rule")
	require.NoError(t, err)
	require.Empty(t, docs)
	require.NoError(t, s.PutDocuments(ctx, store.Document{Tenant: tenant, Kind: "rule", ID: "x", Version: 1, Body: []byte(`stale`)}))
	_, err = s.Document(ctx, tenant, "rule", "x")
	require.ErrorIs(t, err, store.ErrNotFound, "a stale put does not resurrect a deleted document")
}

// testDocumentTenantIsolation keeps the same id under two tenants, and
// lists both under tenant "".
func testDocumentTenantIsolation(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx()
	a, b := f.tenant, f.other("-b").tenant
	require.NoError(t, s.PutDocuments(ctx,
		store.Document{Tenant: a, Kind: "rule", ID: "x", Version: 1, Body: []byte(`"a"`)},
		store.Document{Tenant: b, Kind: "rule", ID: "x", Version: 1, Body: []byte(`"b"`)},
	))
	d, err := s.Document(ctx, b, "rule", "x")
	require.NoError(t, err)
	require.Equal(t, `"b"`, string(d.Body))
	docs, err := s.Documents(ctx, a, "rule")
	require.NoError(t, err)
	require.Len(t, docs, 1)
	all, err := s.Documents(ctx, "", "rule")
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, d := range all {
		seen[d.Tenant] = true
	}
	require.True(t, seen[a] && seen[b], "tenant \"\" lists every tenant")
}
