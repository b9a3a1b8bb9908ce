package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// frameHeader is the size of the length and checksum that precede every
// record body in a segment file.
const frameHeader = 8

// frameVersion is the first byte of every record body, so a later format
// can be told apart from this one without a file-level header.
const frameVersion = 1

// castagnoli is the CRC32 polynomial with hardware support on amd64 and
// arm64, which keeps checksums off the profile of the ingest hot path.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks bytes that do not form a valid record: a torn write at
// the tail of a log, or damage on the disk.
var errCorrupt = errors.New("corrupt record")

// appendFrame encodes rec as one frame at the end of dst:
//
//	uint32 body length | uint32 CRC32-C of body | body
//	body: version byte, uvarint key length, key, uvarint value length,
//	      value, uvarint header count, then per header uvarint length +
//	      name and uvarint length + value.
//
// The topic is not stored because every topic has its own files.
func appendFrame(dst []byte, rec *bus.Record) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, frameVersion)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Key)))
	dst = append(dst, rec.Key...)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Value)))
	dst = append(dst, rec.Value...)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Headers)))
	for k, v := range rec.Headers {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	body := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// frameLen reports the size of the frame at the start of b, header
// included, or 0 when b does not hold a whole valid frame. It checks the
// checksum, so a torn or damaged frame is never taken for a record.
func frameLen(b []byte) int {
	if len(b) < frameHeader {
		return 0
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n == 0 || len(b)-frameHeader < n {
		return 0
	}
	body := b[frameHeader : frameHeader+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return 0
	}
	return frameHeader + n
}

// headerCache holds the headers a cursor decoded last, as written and as
// decoded. The records of one Publish usually carry the same headers, so
// consecutive records share one map, read-only, as ingest's records do
// when published: a map and its strings per record were most of what
// reading a record allocated.
type headerCache struct {
	raw []byte
	m   map[string]string
}

// decodeBody fills rec from a frame body whose checksum has already been
// verified. Key and Value alias body, so body must not be reused. Headers
// come from cache when they are written as the last record's were.
func decodeBody(body []byte, rec *bus.Record, cache *headerCache) error {
	if len(body) == 0 || body[0] != frameVersion {
		return errCorrupt
	}
	b := body[1:]
	var ok bool
	if rec.Key, b, ok = readBytes(b); !ok {
		return errCorrupt
	}
	if rec.Value, b, ok = readBytes(b); !ok {
		return errCorrupt
	}
	if cache.m != nil && bytes.Equal(b, cache.raw) {
		rec.Headers = cache.m
		return nil
	}
	raw := b
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return errCorrupt
	}
	b = b[w:]
	rec.Headers = nil
	if n > 0 {
		rec.Headers = make(map[string]string, n)
	}
	for range n {
		var k, v []byte
		if k, b, ok = readBytes(b); !ok {
			return errCorrupt
		}
		if v, b, ok = readBytes(b); !ok {
			return errCorrupt
		}
		rec.Headers[string(k)] = string(v)
	}
	if len(b) != 0 {
		return errCorrupt
	}
	if rec.Headers != nil {
		cache.raw, cache.m = raw, rec.Headers
	}
	return nil
}

// readBytes splits a uvarint-prefixed byte string off the front of b. An
// empty string decodes as nil, so an absent key stays absent.
func readBytes(b []byte) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	end := w + int(n)
	if n == 0 {
		return nil, b[end:], true
	}
	return b[w:end:end], b[end:], true
}
