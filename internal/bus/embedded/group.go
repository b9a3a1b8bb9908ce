package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// group is a consumer group: its committed offsets, persisted in one file
// so a commit that spans topics is atomic, and which member owns each
// topic right now.
type group struct {
	name string
	path string

	mu      sync.Mutex
	offsets map[string]int64   // topic -> offset of the next record to deliver
	owners  map[string]*member // topic -> the member reading it
	changed chan struct{}      // closed and replaced when a member lets a topic go
}

// groupFile is the JSON stored per group. The name is kept inside because
// the file name is a hash of it.
type groupFile struct {
	Group   string           `json:"group"`
	Offsets map[string]int64 `json:"offsets"`
}

func newGroup(dir, name string) *group {
	sum := sha256.Sum256([]byte(name))
	return &group{
		name:    name,
		path:    filepath.Join(dir, hex.EncodeToString(sum[:])+".json"),
		offsets: map[string]int64{},
		owners:  map[string]*member{},
		changed: make(chan struct{}),
	}
}

// loadGroups reads every group file in dir and removes temporary files
// left by a crash in the middle of a commit.
func loadGroups(dir string) (map[string]*group, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list groups in %s: %w", dir, err)
	}
	groups := map[string]*group{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("cannot remove stale file %s: %w", path, err)
			}
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read group file %s: %w", path, err)
		}
		var f groupFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("cannot decode group file %s: %w", path, err)
		}
		g := newGroup(dir, f.Group)
		if f.Offsets != nil {
			g.offsets = f.Offsets
		}
		groups[g.name] = g
	}
	return groups, nil
}

// group returns the group called name, creating it in memory; it reaches
// the disk with its first commit.
func (b *Bus) group(name string) *group {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.groups[name]
	if g == nil {
		g = newGroup(filepath.Join(b.dir, "groups"), name)
		b.groups[name] = g
	}
	return g
}

// commit persists updates on top of the committed offsets. The file is
// replaced by rename, so a crash leaves either the old or the new offsets.
func (g *group) commit(updates map[string]int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := maps.Clone(g.offsets)
	maps.Copy(next, updates)
	data, err := json.Marshal(groupFile{Group: g.name, Offsets: next})
	if err != nil {
		return fmt.Errorf("cannot encode offsets of group %q: %w", g.name, err)
	}
	if err := writeFileAtomic(g.path, data); err != nil {
		return fmt.Errorf("cannot commit offsets of group %q: %w", g.name, err)
	}
	g.offsets = next
	return nil
}

func (g *group) offset(topic string) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	off, ok := g.offsets[topic]
	return off, ok
}

func (g *group) snapshot() map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.offsets)
}

// own makes m the owner of topic unless another member holds it.
func (g *group) own(topic string, m *member) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.owners[topic] != nil {
		return false
	}
	g.owners[topic] = m
	return true
}

// release lets go of every topic m owns and wakes the members standing by.
func (g *group) release(m *member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for topic, owner := range g.owners {
		if owner == m {
			delete(g.owners, topic)
		}
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *group) changedChan() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
}

// writeFileAtomic replaces path with data: write a temporary file, sync
// it, rename it over path, sync the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot rename %s: %w", tmp, err)
	}
	return syncDir(filepath.Dir(path))
}
