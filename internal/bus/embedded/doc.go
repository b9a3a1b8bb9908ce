// Package embedded is the in-process implementation of bus.Bus used by
// TaskPulse's all-in-one mode: a durable, append-only log per topic in one
// local directory, with consumer groups and subscribers on top. It is
// meant for real small deployments, not only for tests.
//
// # On disk
//
//	<dir>/LOCK                          flock'd while a Bus has the directory open
//	<dir>/topics/<topic>/<base>.log     segments of a topic's log
//	<dir>/groups/<sha256(group)>.json   committed offsets of a group
//
// A topic's log is split into segment files of about Options.SegmentBytes.
// Each is named by the offset of its first byte, written as 20 decimal
// digits. Offsets are byte positions in the topic's whole log, so they grow
// monotonically, survive retention and point straight into a file. Every
// topic has one partition, 0, and keeps the order of the whole topic, so it
// keeps every key's order too.
//
// A segment is a run of frames:
//
//	uint32 LE  body length
//	uint32 LE  CRC32-C of the body
//	body       version byte (1), uvarint key length, key, uvarint value
//	           length, value, uvarint header count, then for each header
//	           uvarint name length, name, uvarint value length, value
//
// A group file is JSON, {"group": name, "offsets": {topic: offset}}, where
// offset is that of the next record to deliver. It is replaced atomically
// (temporary file, fsync, rename, fsync of the directory), so a commit that
// spans topics is all or nothing.
//
// # Publishing
//
// Publish encodes its records into pooled buffers without holding a lock,
// copies the frames into the pending buffer of each topic under one short
// lock, and waits. A single flusher goroutine takes every pending buffer,
// writes each topic's frames with one write, fsyncs each file, and
// releases all waiting publishers at once (group commit): while one fsync
// runs, the next group gathers. Publish returns only after the fsync that
// covers its records, so an acknowledged record survives kill -9 and, as
// far as fsync allows, power loss. A full segment is synced before the
// next one is created, so only the last segment of a topic can end in a
// torn write; Open scans it and truncates anything after the last frame
// whose checksum holds. A failed write is cut back off the file and
// reported as bus.ErrUnavailable; a failed fsync makes the topic refuse
// writes until the bus is reopened, because the kernel may have dropped
// the unsynced pages.
//
// # Reading
//
// Readers never go past the durable end of a log, so they never deliver a
// record whose Publish could still fail. Each flush closes a broadcast
// channel, which wakes every reader waiting at the end. Each reader has its
// own file handle and reads many frames per syscall.
//
// Consume runs a member of a consumer group. A topic belongs to one member
// at a time; the others stand by and take it over, from the last commit,
// when its owner returns. A group that has never read a topic starts at its
// oldest record and commits that position at once. Batches go to the
// handler when they hold MaxBatch records or MaxWait after their first
// record; a batch is committed when the handler returns nil.
//
// Subscribe starts at the durable end of each topic and reads the log like
// a consumer that never commits, so a slow subscriber lags instead of
// slowing Publish or losing records.
//
// # Retention
//
// After each commit, the segments of a topic that every group known to it
// has committed past are deleted, except the active one. A topic that no
// group has joined keeps everything. A subscriber lagging behind the
// slowest group by more than a segment skips what was deleted.
//
// # Lag
//
// Bus.Lag reports, in bytes, how far a group trails the durable end of the
// topics it reads: cheap enough to serve as a gauge on every scrape.
package embedded
