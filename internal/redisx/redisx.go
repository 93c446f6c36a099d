// Package redisx holds what the Redis writes of every step share on all
// three topologies (one node, Sentinel, Cluster): a transaction that a
// Cluster splits per hash slot.
package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// TxPipelined queues fn's commands and sends them as MULTI/EXEC
// transactions: one transaction on a single node or behind Sentinel; on a
// *redis.ClusterClient one per hash slot (a MULTI may not span slots), sent
// one after the other in the order each slot first appears in fn, each
// slot's commands in fn's order. The commands' results are set as with
// redis.Pipeliner. On a Cluster the batch is therefore atomic per slot only:
// a failure part-way leaves the earlier slots written.
//
// Every command fn queues must name its key as its first argument (SET,
// DEL, HSET, SADD, SREM, PEXPIRE, ...); keyless commands go with the first
// slot.
func TxPipelined(ctx context.Context, rc redis.UniversalClient, fn func(redis.Pipeliner) error) error {
	cc, ok := rc.(*redis.ClusterClient)
	if !ok {
		_, err := rc.TxPipelined(ctx, fn)
		return err
	}
	rec := cc.Pipeline()
	if err := fn(rec); err != nil {
		return err
	}
	cmds := rec.Cmds()
	rec.Discard()
	for _, group := range BySlot(cmds) {
		_, err := cc.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, c := range group {
				if err := pipe.Process(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("slot %d: %w", Slot(firstKey(group[0])), err)
		}
	}
	return nil
}

// Exec sends cmds as TxPipelined does and returns their replies in order:
// an integer reply as int64, any other as nil (the batches of writes need
// only the counts).
func Exec(ctx context.Context, rc redis.UniversalClient, cmds []redis.Cmder) ([]any, error) {
	err := TxPipelined(ctx, rc, func(pipe redis.Pipeliner) error {
		for _, c := range cmds {
			_ = pipe.Process(ctx, c)
		}
		return nil
	})
	out := make([]any, len(cmds))
	for i, c := range cmds {
		if ic, isInt := c.(*redis.IntCmd); isInt {
			out[i] = ic.Val()
		}
	}
	return out, err
}

// BySlot groups cmds by the hash slot of their first key, in the order each
// slot first appears, keeping the order of cmds within a group.
func BySlot(cmds []redis.Cmder) [][]redis.Cmder {
	var groups [][]redis.Cmder
	index := map[int]int{}
	for _, c := range cmds {
		slot := -1
		if k := firstKey(c); k != "" {
			slot = Slot(k)
		}
		i, ok := index[slot]
		if !ok && slot == -1 && len(groups) > 0 {
			i, ok = 0, true // keyless: with the first group
		}
		if !ok {
			i = len(groups)
			index[slot] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

func firstKey(c redis.Cmder) string {
	args := c.Args()
	if len(args) < 2 {
		return ""
	}
	k, _ := args[1].(string)
	return k
}

// Slot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the key, or
// of its hash tag (the part between the first '{' and the next '}', when not
// empty), modulo 16384.
func Slot(key string) int {
	if s := indexByte(key, '{'); s >= 0 {
		if e := indexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % 16384)
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), Redis Cluster's.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
