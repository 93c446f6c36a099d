package store

import "errors"

// ErrFenced: a marker or snapshot chunk with a fence at least as high is
// already stored; a newer lock holder wrote it, and the writer must stop.
var ErrFenced = errors.New("store: a newer holder's record is stored")
