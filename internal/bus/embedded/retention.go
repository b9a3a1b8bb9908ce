package embedded

// join returns where group g starts reading t: its committed offset, or,
// for a group new to t, the oldest record, committed at once so that
// retention counts the group from now on.
func (b *Bus) join(g *group, t *topic) (int64, error) {
	b.retainMu.Lock()
	defer b.retainMu.Unlock()
	if off, ok := g.offset(t.name); ok {
		return off, nil
	}
	off := t.oldest()
	if err := g.commit(map[string]int64{t.name: off}); err != nil {
		return 0, err
	}
	return off, nil
}

// retain deletes the segments of t that every group reading t has
// committed past. A topic no group has joined keeps everything, because a
// group that joins later starts at the oldest record.
func (b *Bus) retain(t *topic) {
	b.retainMu.Lock()
	defer b.retainMu.Unlock()
	b.mu.Lock()
	groups := make([]*group, 0, len(b.groups))
	for _, g := range b.groups {
		groups = append(groups, g)
	}
	b.mu.Unlock()
	low, known := int64(0), false
	for _, g := range groups {
		if off, ok := g.offset(t.name); ok {
			if !known || off < low {
				low = off
			}
			known = true
		}
	}
	if !known {
		return
	}
	n, err := t.dropBefore(low)
	if err != nil {
		b.opts.Logger.Error("cannot apply retention", "topic", t.name, "err", err)
	}
	if n > 0 {
		b.opts.Logger.Debug("deleted consumed segments", "topic", t.name, "segments", n)
	}
}
