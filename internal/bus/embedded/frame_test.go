package embedded

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// FuzzFrame checks that any record survives encoding, and that no input
// makes the decoder panic or accept a frame whose checksum fails.
func FuzzFrame(f *testing.F) {
	f.Add([]byte("task-1"), []byte(`{"progress":10}`), "tenant", "acme", []byte{})
	f.Add([]byte{}, []byte{}, "", "", []byte("\x05\x00\x00\x00garbage"))
	f.Fuzz(func(t *testing.T, key, value []byte, hk, hv string, junk []byte) {
		rec := bus.Record{Key: key, Value: value, Headers: map[string]string{hk: hv}}
		frame := appendFrame(nil, &rec)
		require.Equal(t, len(frame), frameLen(append(frame, junk...)))
		var (
			got   bus.Record
			cache headerCache
		)
		require.NoError(t, decodeBody(frame[frameHeader:], &got, &cache))
		require.True(t, bytes.Equal(key, got.Key))
		require.True(t, bytes.Equal(value, got.Value))
		require.Equal(t, rec.Headers, got.Headers)
		// The same record again takes its headers from the cache.
		var again bus.Record
		require.NoError(t, decodeBody(frame[frameHeader:], &again, &cache))
		require.Equal(t, rec.Headers, again.Headers)
		other := bus.Record{Headers: map[string]string{hk + "x": hv}}
		require.NoError(t, decodeBody(appendFrame(nil, &other)[frameHeader:], &again, &cache))
		require.Equal(t, other.Headers, again.Headers)

		if n := frameLen(junk); n > 0 {
			_ = decodeBody(junk[frameHeader:n], &got, &cache)
		}
		_ = decodeBody(junk, &got, &cache)
		if len(frame) > frameHeader {
			frame[len(frame)-1] ^= 0x01
			require.Zero(t, frameLen(frame), "a flipped bit must fail the checksum")
		}
	})
}
