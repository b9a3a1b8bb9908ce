package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// RunDocuments is the conformance suite of store.DocumentStore.
func RunDocuments(t *testing.T, open func(t testing.TB) store.DocumentStore) {
	t.Run("PutGetList", func(t *testing.T) {
		s, tenant, ctx := open(t), documentTenant(), context.Background()
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
	})
	t.Run("OnlyHigherVersionsReplace", func(t *testing.T) {
		s, tenant, ctx := open(t), documentTenant(), context.Background()
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
	})
	t.Run("DeleteIsAVersionedTombstone", func(t *testing.T) {
		s, tenant, ctx := open(t), documentTenant(), context.Background()
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
	})
	t.Run("TenantsAreSeparate", func(t *testing.T) {
		s, ctx := open(t), context.Background()
		a, b := documentTenant(), documentTenant()
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
	})
}

func documentTenant() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "doc-" + hex.EncodeToString(b)
}
