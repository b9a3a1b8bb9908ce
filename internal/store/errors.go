package store

import "errors"

// ErrNotFound is returned when a task (or other item) does not exist for
// the tenant asking.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a conditional write finds the stored record
// at another version than the one the caller named, or finds it already
// there on a create. Nothing was written; the caller reads the record again
// before deciding.
var ErrConflict = errors.New("version conflict")
