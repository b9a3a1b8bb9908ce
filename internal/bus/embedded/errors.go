package embedded

import "errors"

// ErrLocked is returned by Open when another Bus, in this process or
// another one, already holds the directory. Two writers on one log would
// interleave frames and corrupt it.
var ErrLocked = errors.New("bus directory is locked by another process")

// ErrInvalidTopic is returned for a topic name that cannot be a directory
// name. Like Kafka, names are limited to ASCII letters, digits, '.', '_'
// and '-', at most 249 characters.
var ErrInvalidTopic = errors.New("invalid topic name")

// ErrRecordTooLarge is returned by Publish for a record whose encoding
// exceeds Options.MaxRecordBytes.
var ErrRecordTooLarge = errors.New("record too large")
