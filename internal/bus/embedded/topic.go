package embedded

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// topic is the append-only log of one topic: a directory of segment files
// named by the offset of their first byte. Offsets are byte positions in
// the topic's whole log, so a record's offset tells which segment holds it
// without an index.
type topic struct {
	name string
	dir  string

	// durable is the end of the fsync'd log. Readers never read past it,
	// so they never see a record whose Publish could still fail.
	durable atomic.Int64

	mu       sync.Mutex
	segments []int64 // bases in ascending order; the last is active

	// The flusher goroutine alone uses these once the bus is open.
	active     *os.File
	activeBase int64
	activeSize int64 // bytes of the active segment that are synced
	broken     error // a failed fsync: the page cache can no longer be trusted
	flushing   []byte

	// Guarded by Bus.pubMu: frames waiting for the next flush.
	pending []byte
	dirty   bool
}

func segmentName(base int64) string {
	return fmt.Sprintf("%020d.log", base)
}

func (t *topic) segmentPath(base int64) string {
	return filepath.Join(t.dir, segmentName(base))
}

// validTopic reports whether name can be used as a directory name on every
// platform, following Kafka's rule for topic names.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// openTopic opens the log in dir, creating its first segment when there is
// none, and truncates a torn record at the end of the last segment. Older
// segments were synced before the next one was created, so only the last
// can end in a partial write.
func openTopic(dir, name string, log *slog.Logger) (*topic, error) {
	t := &topic{name: name, dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list segments of topic %s: %w", name, err)
	}
	sizes := map[int64]int64{}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(base, 10, 64)
		if err != nil || segmentName(n) != e.Name() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("cannot stat segment %s of topic %s: %w", e.Name(), name, err)
		}
		t.segments = append(t.segments, n)
		sizes[n] = info.Size()
	}
	sort.Slice(t.segments, func(i, j int) bool { return t.segments[i] < t.segments[j] })
	if len(t.segments) == 0 {
		t.segments = []int64{0}
	}
	for i := 0; i+1 < len(t.segments); i++ {
		if end := t.segments[i] + sizes[t.segments[i]]; end != t.segments[i+1] {
			return nil, fmt.Errorf("cannot open topic %s: segment %s ends at %d but the next starts at %d: %w",
				name, segmentName(t.segments[i]), end, t.segments[i+1], errCorrupt)
		}
	}
	t.activeBase = t.segments[len(t.segments)-1]
	path := t.segmentPath(t.activeBase)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open segment %s: %w", path, err)
	}
	valid, size, err := scanSegment(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot scan segment %s: %w", path, err)
	}
	if valid < size {
		log.Warn("truncating torn tail of topic log", "topic", name, "segment", path, "valid_bytes", valid, "dropped_bytes", size-valid)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot truncate torn tail of %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot sync segment %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	t.active = f
	t.activeSize = valid
	t.durable.Store(t.activeBase + valid)
	return t, nil
}

// scanSegment returns how many leading bytes of f are whole, valid frames,
// and the file's size.
func scanSegment(f *os.File) (valid, size int64, err error) {
	info, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = info.Size()
	buf := make([]byte, 1<<20)
	for valid < size {
		n, err := f.ReadAt(buf, valid)
		if n == 0 && err != nil {
			return 0, 0, err
		}
		chunk := buf[:n]
		used := 0
		for {
			l := frameLen(chunk[used:])
			if l == 0 {
				break
			}
			used += l
		}
		valid += int64(used)
		if used > 0 {
			continue
		}
		// No whole frame at the start of the chunk: either the frame is
		// larger than the buffer, or this is the torn tail.
		if len(chunk) < frameHeader {
			break
		}
		need := int64(frameHeader) + int64(binary.LittleEndian.Uint32(chunk))
		if need <= int64(len(chunk)) || need > size-valid {
			break
		}
		buf = make([]byte, need)
	}
	return valid, size, nil
}

// oldest returns the offset of the first byte still on disk.
func (t *topic) oldest() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.segments[0]
}

// locate finds the segment that holds pos and how far it can be read.
// A pos that retention has already deleted moves up to the oldest record.
func (t *topic) locate(pos int64) (base, end, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	segs := t.segments
	pos = max(pos, segs[0])
	i := sort.Search(len(segs), func(i int) bool { return segs[i] > pos }) - 1
	end = t.durable.Load()
	if i+1 < len(segs) {
		end = segs[i+1]
	}
	return segs[i], end, pos
}

// write appends buf, a run of whole frames, to the log and syncs it,
// starting a new segment whenever the next frame would overflow the
// active one. On a write error the segment is cut back to its synced
// size so no partial frame stays behind.
func (t *topic) write(buf []byte, segmentBytes int64) error {
	if t.broken != nil {
		return t.broken
	}
	written := int64(0)
	for len(buf) > 0 {
		n := fitting(buf, segmentBytes-t.activeSize-written)
		if n == 0 && t.activeSize+written > 0 {
			if err := t.sync(written); err != nil {
				return err
			}
			written = 0
			if err := t.roll(); err != nil {
				return err
			}
			continue
		}
		if n == 0 {
			// A record larger than a whole segment gets a segment of its own.
			n = frameHeader + int(binary.LittleEndian.Uint32(buf))
		}
		if _, err := t.active.WriteAt(buf[:n], t.activeSize+written); err != nil {
			if terr := t.active.Truncate(t.activeSize); terr != nil {
				t.broken = fmt.Errorf("cannot truncate topic %s after a failed write: %w", t.name, terr)
			}
			return fmt.Errorf("cannot append to topic %s: %w", t.name, err)
		}
		written += int64(n)
		buf = buf[n:]
	}
	return t.sync(written)
}

// fitting returns the size of the longest run of whole frames at the start
// of buf that fits in room bytes.
func fitting(buf []byte, room int64) int {
	off := 0
	for off < len(buf) {
		l := frameHeader + int(binary.LittleEndian.Uint32(buf[off:]))
		if int64(off+l) > room {
			break
		}
		off += l
	}
	return off
}

// sync makes the written bytes of the active segment durable and lets
// readers see them.
func (t *topic) sync(written int64) error {
	if err := t.active.Sync(); err != nil {
		// After a failed fsync Linux may drop the dirty pages and report
		// success on the next try, so nothing written since is trusted.
		t.broken = fmt.Errorf("cannot sync topic %s: %w", t.name, err)
		return t.broken
	}
	t.activeSize += written
	t.durable.Store(t.activeBase + t.activeSize)
	return nil
}

// roll starts a new, empty active segment after the synced one.
func (t *topic) roll() error {
	base := t.activeBase + t.activeSize
	path := t.segmentPath(base)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create segment %s: %w", path, err)
	}
	if err := syncDir(t.dir); err != nil {
		f.Close()
		return err
	}
	t.active.Close()
	t.active, t.activeBase, t.activeSize = f, base, 0
	t.mu.Lock()
	t.segments = append(t.segments, base)
	t.mu.Unlock()
	return nil
}

// dropBefore deletes the segments that end at or before off, never the
// active one, and returns how many it deleted. Readers that still have a
// deleted segment open keep reading it: the file lives until they close it.
func (t *topic) dropBefore(off int64) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for len(t.segments) > 1 && t.segments[1] <= off {
		if err := os.Remove(t.segmentPath(t.segments[0])); err != nil && !os.IsNotExist(err) {
			return n, fmt.Errorf("cannot delete segment %s: %w", t.segmentPath(t.segments[0]), err)
		}
		t.segments = t.segments[1:]
		n++
	}
	return n, nil
}

// syncDir makes the creation, rename or removal of entries in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync directory %s: %w", dir, err)
	}
	return nil
}
