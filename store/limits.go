package store

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxRecordBytes is the largest record bootstrap writes: a marker, an
// ownership chunk, an audit record, a snapshot chunk (each one MongoDB
// document, measured as BSON) or a Redis completion record (its key and
// fields). It is Azure Cosmos DB for MongoDB's document limit (2 MB; 16 MB
// only where the account enables it), the smallest of the stores bootstrap
// runs against. Every record is checked against it before it is written.
const MaxRecordBytes = 2 << 20

// ErrTooLarge: a record is over MaxRecordBytes; nothing of it was written.
var ErrTooLarge = errors.New("store: record over the 2 MiB limit (Azure Cosmos DB's document size)")

// checkSize returns an error wrapping ErrTooLarge, naming the record, when
// size is over MaxRecordBytes.
func checkSize(record string, size int) error {
	if size > MaxRecordBytes {
		return fmt.Errorf("%s is %d bytes, %d over the limit of %d: %w",
			record, size, size-MaxRecordBytes, MaxRecordBytes, ErrTooLarge)
	}
	return nil
}

// encode marshals the document v of the named record and checks its size:
// the bytes returned are what is sent, so the check measures the record as
// stored.
func encode(record string, v any) (bson.Raw, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", record, err)
	}
	if err := checkSize(record, len(raw)); err != nil {
		return nil, err
	}
	return raw, nil
}
