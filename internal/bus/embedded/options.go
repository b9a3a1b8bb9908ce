package embedded

import (
	"io"
	"log/slog"
)

// Options tune an embedded bus. The zero value is ready to use.
type Options struct {
	// SegmentBytes is the size at which a topic's log starts a new
	// segment file. Retention deletes whole segments, so smaller segments
	// free disk sooner at the cost of more files. Default 64 MiB.
	SegmentBytes int64
	// MaxRecordBytes caps the encoded size of one record; Publish rejects
	// larger ones. It also bounds what recovery accepts as a record
	// length. Default 16 MiB.
	MaxRecordBytes int
	// Logger receives recovery and retention events. Default: discard.
	Logger *slog.Logger
}

const (
	defaultSegmentBytes   = 64 << 20
	defaultMaxRecordBytes = 16 << 20
)

func (o Options) withDefaults() Options {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = defaultMaxRecordBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}
