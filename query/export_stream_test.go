package query_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
)

// watchedLogs is the real store telling how each log stream ended, and
// failing one after failAfter records when that is set.
type watchedLogs struct {
	*duckdb.Store
	failAfter int
	ended     chan error
}

var errStoreGone = errors.New("store went away")

func (w *watchedLogs) StreamLogs(ctx context.Context, f store.LogFilter, fn func(schema.Log) error) error {
	n := 0
	err := w.Store.StreamLogs(ctx, f, func(l schema.Log) error {
		if n++; w.failAfter > 0 && n > w.failAfter {
			return errStoreGone
		}
		return fn(l)
	})
	w.ended <- err
	return err
}

// bulkLogs stores n records of about 1 KiB each, more than the sockets
// between server and client hold.
func bulkLogs(t *testing.T, st *duckdb.Store, n int) {
	t.Helper()
	long := strings.Repeat("x", 1000)
	for start := 0; start < n; start += 5000 {
		var batch []schema.Log
		for i := start; i < min(n, start+5000); i++ {
			batch = append(batch, schema.Log{Timestamp: t0 - int64(i), Level: schema.LevelInfo, Message: fmt.Sprintf("%d %s", i, long)})
		}
		insertLogs(t, st, batch...)
	}
}

func TestExportStopsReadingWhenTheClientLeaves(t *testing.T) {
	st := openStore(t)
	bulkLogs(t, st, 60_000)
	watched := &watchedLogs{Store: st, ended: make(chan error, 1)}
	a := startAPI(t, query.Deps{Store: watched})

	resp, err := a.client.Get(a.base + "/v1/export?what=logs&format=ndjson")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = io.ReadFull(resp.Body, make([]byte, 4096))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	select {
	case err := <-watched.ended:
		require.ErrorIs(t, err, context.Canceled, "the walk ran on for a client that left")
	case <-time.After(time.Minute):
		t.Fatal("the walk still runs a minute after its client left")
	}
}

func TestExportCutShortWhenTheStoreFails(t *testing.T) {
	st := openStore(t)
	bulkLogs(t, st, 3000)
	for _, format := range []string{"csv", "json", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			watched := &watchedLogs{Store: st, failAfter: 2500, ended: make(chan error, 1)}
			a := startAPI(t, query.Deps{Store: watched})
			resp, err := a.client.Get(a.base + "/v1/export?what=logs&format=" + format)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "the first rows were read")
			body, err := io.ReadAll(resp.Body)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a failed export ended like a whole one")
			require.NotEmpty(t, body)
			require.ErrorIs(t, <-watched.ended, errStoreGone)
		})
	}
}
