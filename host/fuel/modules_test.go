package fuel_test

// Hand-made modules that exercise every place a function index can hide.

var (
	t0 = functype(nil, []byte{i32})              // () -> i32
	t1 = functype([]byte{i32}, []byte{i32})      // (i32) -> i32
	t2 = functype(nil, nil)                      // () -> ()
	t3 = functype([]byte{i32, i32}, []byte{i32}) // (i32, i32) -> i32
)

// envModule provides the imports of sinkModule: env.imp returns 100 and
// env.g0 is 7.
func envModule() []byte {
	return module(
		section(1, vec(t0)),
		section(3, vec(u32(0))),
		section(6, vec(cat([]byte{i32, 0x00, 0x41, 0x07, 0x0b}))),
		section(7, vec(exportOf("imp", 0x00, 0), exportOf("g0", 0x03, 0))),
		section(10, vec(body(nil, 0x41, 0xe4, 0x00, 0x0b))),
	)
}

// The functions of sinkModule, by index. env.imp is 0.
const (
	fnImp = iota
	fnF0
	fnF1
	fnF2
	fnCallSlot
	fnInit
	fnViaRef
	fnCallImp
	fnCount
	fnStart
	fnGetG
	fnMV
	fnSIMD
	fnViaGlobal
	fnBulk
)

var v128A = []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}

// sinkModule imports a function and a global and uses function indices in
// calls, call_indirect through all eight element segment encodings,
// ref.func in code, globals and elements, exports, the start section and
// the name section, plus multi-value loops, SIMD and bulk memory.
func sinkModule() []byte {
	simd := cat(
		[]byte{0x03, i32}, // loop (result i32)
		[]byte{0xfd, 0x0c}, v128A,
		[]byte{0xfd, 0x0c}, v128A,
		[]byte{0xfd, 0xae, 0x01}, // i32x4.add: a two-byte sub-opcode
		[]byte{0xfd, 0x0c}, v128A,
		[]byte{0xfd, 0x0d, 8, 9, 10, 11, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, // i8x16.shuffle
		[]byte{0xfd, 0x1b, 0x00}, // i32x4.extract_lane 0
		[]byte{0x0b, 0x0b},
	)
	bulk := []byte{
		0x41, 0x10, 0x41, 0x00, 0x41, 0x05, 0xfc, 0x08, 0x00, 0x00, // memory.init 0
		0xfc, 0x09, 0x00, // data.drop 0
		0x41, 0x20, 0x41, 0x10, 0x41, 0x05, 0xfc, 0x0a, 0x00, 0x00, // memory.copy
		0x41, 0x28, 0x41, 0x21, 0x41, 0x03, 0xfc, 0x0b, 0x00, // memory.fill
		0x43, 0xf9, 0x02, 0x15, 0x50, 0xfc, 0x00, 0x1a, // f32.const 1e10; i32.trunc_sat_f32_s; drop
		0x41, 0x20, 0x28, 0x02, 0x00, // i32.load
		0x41, 0x28, 0x2d, 0x00, 0x00, // i32.load8_u
		0x6a, 0x0b,
	}
	return module(
		section(1, vec(t0, t1, t2)),
		section(2, vec(
			importFunc("env", "imp", 0),
			cat(str("env"), str("g0"), []byte{0x03, i32, 0x00}),
		)),
		section(3, vec(u32(0), u32(0), u32(0), u32(1), u32(2), u32(0), u32(0),
			u32(1), u32(2), u32(0), u32(1), u32(0), u32(0), u32(0))),
		section(4, vec([]byte{0x70, 0x00, 10})),
		section(5, vec([]byte{0x00, 0x01})),
		section(6, vec(
			[]byte{i32, 0x01, 0x41, 0x00, 0x0b},  // global 1: mutable i32 = 0
			[]byte{0x70, 0x00, 0xd2, fnF2, 0x0b}, // global 2: funcref = ref.func f2
		)),
		section(7, vec(
			exportOf("f0", 0x00, fnF0),
			exportOf("callslot", 0x00, fnCallSlot),
			exportOf("init", 0x00, fnInit),
			exportOf("viaref", 0x00, fnViaRef),
			exportOf("callimp", 0x00, fnCallImp),
			exportOf("count", 0x00, fnCount),
			exportOf("getg", 0x00, fnGetG),
			exportOf("mv", 0x00, fnMV),
			exportOf("simd", 0x00, fnSIMD),
			exportOf("viaglobal", 0x00, fnViaGlobal),
			exportOf("bulk", 0x00, fnBulk),
			exportOf("tab", 0x01, 0),
			exportOf("mem", 0x02, 0),
			exportOf("g1", 0x03, 1),
		)),
		section(8, u32(fnStart)),
		section(9, vec(
			cat([]byte{0x00, 0x41, 0x00, 0x0b}, vec(u32(fnF0))),                              // active, table 0 -> slot 0
			cat([]byte{0x01, 0x00}, vec(u32(fnF1), u32(fnF2))),                               // passive
			cat([]byte{0x02, 0x00, 0x41, 0x01, 0x0b, 0x00}, vec(u32(fnF1))),                  // active, table 0 -> slot 1
			cat([]byte{0x03, 0x00}, vec(u32(fnF0))),                                          // declarative
			cat([]byte{0x04, 0x41, 0x02, 0x0b}, vec([]byte{0xd2, fnF2, 0x0b})),               // active exprs -> slot 2
			cat([]byte{0x05, 0x70}, vec([]byte{0xd2, fnF1, 0x0b}, []byte{0xd0, 0x70, 0x0b})), // passive exprs
			cat([]byte{0x06, 0x00, 0x41, 0x03, 0x0b, 0x70}, vec([]byte{0xd2, fnF0, 0x0b})),   // active exprs -> slot 3
			cat([]byte{0x07, 0x70}, vec([]byte{0xd2, fnF1, 0x0b})),                           // declarative exprs
		)),
		section(12, u32(1)),
		section(10, vec(
			body(nil, 0x41, 0x01, 0x0b),
			body(nil, 0x41, 0x02, 0x0b),
			body(nil, 0x41, 0x03, 0x0b),
			body(nil, 0x20, 0x00, 0x11, 0x00, 0x00, 0x0b),
			body(nil,
				0x41, 0x05, 0x41, 0x00, 0x41, 0x02, 0xfc, 0x0c, 0x01, 0x00, // table.init 1 -> slots 5, 6
				0x41, 0x07, 0x41, 0x00, 0x41, 0x01, 0xfc, 0x0c, 0x05, 0x00, // table.init 5 -> slot 7
				0xfc, 0x0d, 0x01, // elem.drop 1
				0x0b),
			body(nil, 0x41, 0x08, 0xd2, fnF1, 0x26, 0x00, 0x41, 0x08, 0x11, 0x00, 0x00, 0x0b),
			body(nil, 0x10, fnImp, 0x23, 0x00, 0x6a, 0x0b),
			body([][2]byte{{1, i32}},
				0x02, 0x40, 0x03, 0x40,
				0x20, 0x00, 0x45, 0x0d, 0x01,
				0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00,
				0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,
				0x0c, 0x00,
				0x0b, 0x0b,
				0x20, 0x01, 0x0b),
			body(nil, 0x41, 0x2a, 0x24, 0x01, 0x0b),
			body(nil, 0x23, 0x01, 0x0b),
			body([][2]byte{{1, i32}},
				0x20, 0x00,
				0x03, 0x01, // loop (type 1): (i32) -> i32
				0x41, 0x01, 0x6b, 0x22, 0x00,
				0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,
				0x20, 0x00, 0x41, 0x00, 0x4a, 0x0d, 0x00,
				0x0b,
				0x02, 0x00, 0x41, 0x05, 0x0b, // block (type 0): () -> i32
				0x6a, 0x20, 0x01, 0x6a, 0x0b),
			body(nil, simd...),
			body(nil, 0x41, 0x09, 0x23, 0x02, 0x26, 0x00, 0x41, 0x09, 0x11, 0x00, 0x00, 0x0b),
			body(nil, bulk...),
		)),
		section(11, vec(cat([]byte{0x01}, str("hello")))),
		custom("name",
			section(0, str("sink")),
			section(1, vec(
				cat(u32(fnImp), str("imp")),
				cat(u32(fnF0), str("f0")),
				cat(u32(fnF1), str("f1")),
				cat(u32(fnCallSlot), str("callslot")),
				cat(u32(fnCount), str("count")),
				cat(u32(fnMV), str("mv")),
			)),
			section(2, vec(
				cat(u32(fnCount), vec(cat(u32(0), str("n")), cat(u32(1), str("acc")))),
				cat(u32(fnMV), vec(cat(u32(0), str("x")))),
			)),
		),
		custom("keep", []byte{1, 2, 3}),
		custom(".debug_info", []byte{4, 5, 6}),
	)
}

// tailModule has no () -> i32 type, no imports and no globals, and sums
// 1..n with return_call and return_call_indirect.
func tailModule() []byte {
	sum := []byte{
		0x20, 0x00, 0x45, 0x04, 0x40, 0x20, 0x01, 0x0f, 0x0b, // if n == 0 { return acc }
		0x20, 0x00, 0x41, 0x01, 0x6b, // n - 1
		0x20, 0x01, 0x20, 0x00, 0x6a, // acc + n
	}
	return module(
		section(1, vec(t3)),
		section(3, vec(u32(0), u32(0))),
		section(4, vec([]byte{0x70, 0x00, 1})),
		section(7, vec(exportOf("sum", 0x00, 0), exportOf("sumi", 0x00, 1))),
		section(9, vec(cat([]byte{0x00, 0x41, 0x00, 0x0b}, vec(u32(0))))), // slot 0 = sum
		section(10, vec(
			body(nil, cat(sum, []byte{0x12, 0x01, 0x0b})...),                   // return_call sumi
			body(nil, cat(sum, []byte{0x41, 0x00, 0x13, 0x00, 0x00, 0x0b})...), // return_call_indirect slot 0
		)),
	)
}
