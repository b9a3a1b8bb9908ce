package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// readChunk is how much of a segment a cursor reads with one syscall.
const readChunk = 1 << 20

// cursor reads one topic's log from a position. It has its own file
// handle, so retention may delete the segment under it and the flusher
// never shares a handle with readers.
type cursor struct {
	t   *topic
	pos int64

	f       *os.File
	fbase   int64
	buf     []byte
	headers headerCache
}

// read appends to dst the durable records from the cursor's position on,
// until dst holds limit records or the durable end is reached. Records own
// their memory: one allocation per call holds all their keys and values.
func (c *cursor) read(dst []bus.Record, limit int) ([]bus.Record, error) {
	for len(dst) < limit {
		base, end, pos := c.t.locate(c.pos)
		c.pos = pos
		if pos >= end {
			return dst, nil
		}
		if err := c.open(base); err != nil {
			if errors.Is(err, fs.ErrNotExist) && c.t.oldest() > pos {
				continue // retention deleted it; locate moves on
			}
			return dst, err
		}
		want := int(min(end-pos, int64(max(readChunk, cap(c.buf)))))
		if cap(c.buf) < want {
			c.buf = make([]byte, want)
		}
		buf := c.buf[:want]
		if _, err := c.f.ReadAt(buf, pos-base); err != nil {
			return dst, fmt.Errorf("cannot read topic %s at offset %d: %w", c.t.name, pos, err)
		}
		used, n := 0, 0
		for len(dst)+n < limit {
			l := frameLen(buf[used:])
			if l == 0 {
				break
			}
			used += l
			n++
		}
		if n == 0 {
			// A frame larger than the buffer: grow it and read again.
			need := int64(frameHeader) + int64(binary.LittleEndian.Uint32(buf))
			if len(buf) >= frameHeader && need > int64(len(buf)) && need <= end-pos {
				c.buf = make([]byte, need)
				continue
			}
			return dst, fmt.Errorf("cannot read topic %s at offset %d: %w", c.t.name, pos, errCorrupt)
		}
		slab := make([]byte, used)
		copy(slab, buf[:used])
		for off := 0; off < used; {
			l := frameHeader + int(binary.LittleEndian.Uint32(slab[off:]))
			rec := bus.Record{Topic: c.t.name, Offset: pos + int64(off)}
			if err := decodeBody(slab[off+frameHeader:off+l], &rec, &c.headers); err != nil {
				return dst, fmt.Errorf("cannot decode topic %s at offset %d: %w", c.t.name, rec.Offset, err)
			}
			dst = append(dst, rec)
			off += l
		}
		c.pos = pos + int64(used)
	}
	return dst, nil
}

func (c *cursor) open(base int64) error {
	if c.f != nil && c.fbase == base {
		return nil
	}
	c.close()
	path := c.t.segmentPath(base)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open segment %s: %w", path, err)
	}
	c.f, c.fbase = f, base
	return nil
}

func (c *cursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
