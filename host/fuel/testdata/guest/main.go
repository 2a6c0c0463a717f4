// Command guest is a Go wasip1 reactor that the fuel tests rewrite and run:
// a CPU loop, an infinite loop, JSON work and indirect calls.
package main

import (
	"encoding/json"
	"strconv"
)

func main() {}

// spin runs a CPU loop of n iterations and returns a checksum (FNV-1a).
//
//go:wasmexport spin
func spin(n int32) int64 {
	h := uint64(14695981039346656037)
	for i := int32(0); i < n; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	return int64(h)
}

// noop measures the cost of a call itself.
//
//go:wasmexport noop
func noop() {}

//go:wasmexport forever
func forever() {
	for {
	}
}

type order struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Items []item            `json:"items"`
	Tags  map[string]string `json:"tags"`
}

type item struct {
	SKU   string  `json:"sku"`
	Price float64 `json:"price"`
	Qty   int     `json:"qty"`
}

// jsonwork marshals and unmarshals an order n times and returns a checksum
// of the encoded lengths and decoded fields.
//
//go:wasmexport jsonwork
func jsonwork(n int32) int32 {
	var sum int32
	for i := int32(0); i < n; i++ {
		o := order{ID: int(i), Name: "order-" + strconv.Itoa(int(i)), Tags: map[string]string{"k": strconv.Itoa(int(i) * 7)}}
		for j := 0; j < 5; j++ {
			o.Items = append(o.Items, item{SKU: "sku" + strconv.Itoa(j), Price: float64(j) * 1.25, Qty: j + int(i)})
		}
		b, err := json.Marshal(o)
		if err != nil {
			return -1
		}
		var back order
		if err := json.Unmarshal(b, &back); err != nil {
			return -2
		}
		sum += int32(len(b)) + int32(back.ID) + int32(back.Items[4].Qty) + int32(len(back.Tags["k"]))
	}
	return sum
}

type shape interface{ area() int32 }

type square struct{ side int32 }
type rect struct{ w, h int32 }

func (s square) area() int32 { return s.side * s.side }
func (r rect) area() int32   { return r.w * r.h }

var ops = []func(int32) int32{
	func(x int32) int32 { return x * 2 },
	func(x int32) int32 { return x*x + 1 },
	func(x int32) int32 { return x - 3 },
}

// callindirect goes through func values and interface methods, which Go
// compiles to call_indirect through the table that the element section fills.
//
//go:wasmexport callindirect
func callindirect(n int32) int32 {
	shapes := []shape{square{3}, rect{2, 5}}
	var sum int32
	for i := int32(0); i < n; i++ {
		sum += ops[int(i)%len(ops)](i) + shapes[int(i)%len(shapes)].area()
	}
	return sum
}
