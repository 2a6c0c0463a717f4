package abi

// TxnKind is the WIT enum txn-kind: what one operation of a storage
// transaction does.
type TxnKind uint8

// The operation kinds, in the order of the WIT enum.
const (
	TxnSet TxnKind = iota
	TxnDelete
	TxnCheck
)

// TxnCondition is the WIT enum txn-condition: what an operation requires of
// its key's current value.
type TxnCondition uint8

// The conditions, in the order of the WIT enum.
const (
	// Always: no condition.
	Always TxnCondition = iota
	// IfAbsent: the key holds no live record.
	IfAbsent
	// IfExists: the key holds a live record.
	IfExists
	// IfEquals: the key holds exactly Expect.
	IfEquals
)

// TxnOp is the WIT record txn-op: one operation of storage.transact.
type TxnOp struct {
	Kind TxnKind
	Key  string
	// Value and TTLSeconds are a set's; a positive TTL makes it expire.
	Value      []byte
	TTLSeconds uint32
	Condition  TxnCondition
	// Expect is the value IfEquals requires.
	Expect []byte
}

// Txn is the list of operations storage.transact takes.
type Txn []TxnOp

// Append encodes t onto dst.
func (t Txn) Append(dst []byte) []byte {
	e := encoder(dst)
	e.uint(uint64(len(t)))
	for _, op := range t {
		e.uint(uint64(op.Kind))
		e.string(op.Key)
		e.bytes(op.Value)
		e.uint(uint64(op.TTLSeconds))
		e.uint(uint64(op.Condition))
		e.bytes(op.Expect)
	}
	return e
}

// Decode replaces t with the list in src. It refuses unknown kinds and
// conditions, and more than MaxTxnOps operations.
func (t *Txn) Decode(src []byte) error {
	d := decoder{buf: src}
	n := d.count(6)
	if n > MaxTxnOps {
		d.fail("too many operations")
	}
	*t = nil
	if d.err == nil && n > 0 {
		*t = make(Txn, n)
		for i := range *t {
			op := &(*t)[i]
			k := d.uint()
			op.Key = d.string()
			op.Value = d.bytes()
			op.TTLSeconds = d.u32()
			c := d.uint()
			op.Expect = d.bytes()
			if k > uint64(TxnCheck) || c > uint64(IfEquals) {
				d.fail("unknown operation kind or condition")
			}
			op.Kind, op.Condition = TxnKind(k), TxnCondition(c)
		}
	}
	return d.done()
}
