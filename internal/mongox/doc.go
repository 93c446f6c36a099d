// Package mongox holds what every MongoDB and Redis write of the product is
// made of: batching (at most DefaultBatchSize statements a command),
// bounded retry of transient errors, reads by key in batches, and the
// comparison of BSON values and documents. Every backend limit lives here.
package mongox
