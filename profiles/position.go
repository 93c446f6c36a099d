package profiles

import (
	"bytes"
	"slices"
)

// runeBlock is the stride of posIndex's rune counts.
const runeBlock = 1024

// posIndex turns byte offsets of one file into lines and columns after one
// pass over it, so that a file with many problems (or a single long line
// with many) costs no more than one with a few: O(log n) plus at most
// runeBlock bytes per position.
type posIndex struct {
	data  []byte
	lines []int64 // offset where each line starts
	runes []int64 // runes before each block of runeBlock bytes
}

func newPosIndex(data []byte) *posIndex {
	x := &posIndex{data: data, lines: []int64{0}}
	for off := 0; ; {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
		x.lines = append(x.lines, int64(off))
	}
	var n int64
	for b := 0; b < len(data); b += runeBlock {
		x.runes = append(x.runes, n)
		n += runeCount(data[b:min(b+runeBlock, len(data))])
	}
	return x
}

// runeCount counts the bytes of data that start a UTF-8 sequence (for valid
// UTF-8, its runes), which can be summed over any split of data.
func runeCount(data []byte) int64 {
	var n int64
	for _, c := range data {
		if c&0xc0 != 0x80 {
			n++
		}
	}
	return n
}

// runesBefore returns the runes of data[:off].
func (x *posIndex) runesBefore(off int64) int64 {
	b := off / runeBlock
	if b >= int64(len(x.runes)) {
		return runeCount(x.data[:off]) // only for empty data
	}
	return x.runes[b] + runeCount(x.data[b*runeBlock:off])
}

// lineCol returns the 1-based line and column (in characters) of offset
// off, as lineCol does.
func (x *posIndex) lineCol(off int64) (line, col int) {
	off = max(0, min(off, int64(len(x.data))))
	i, found := slices.BinarySearch(x.lines, off)
	if !found {
		i--
	}
	return i + 1, int(x.runesBefore(off)-x.runesBefore(x.lines[i])) + 1
}
