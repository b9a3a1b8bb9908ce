package ingest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestAppendUUIDSpellsAsString(t *testing.T) {
	f := func(id uuid.UUID) {
		t.Helper()
		require.Equal(t, id.String(), string(appendUUID(nil, id)))
	}
	f(uuid.UUID{})
	f(uuid.Max)
	for range 100 {
		f(uuid.Must(uuid.NewV7()))
	}
}
