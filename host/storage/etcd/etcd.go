package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrConfig is returned by Open for a configuration it cannot use.
	ErrConfig = errors.New("etcd: invalid configuration")
	// ErrInvalid is returned for a write with an empty key.
	ErrInvalid = errors.New("etcd: invalid write")
	// ErrTooLarge is returned by Apply for a batch with preconditions that
	// does not fit in one etcd transaction (see Config.MaxTxnOps and
	// Config.MaxTxnBytes), and for a single write larger than MaxTxnBytes.
	ErrTooLarge = errors.New("etcd: batch too large for one transaction")
	// ErrDamaged is returned by Get for a value under the prefix that this
	// package did not write.
	ErrDamaged = fmt.Errorf("etcd: value not in this package's format: %w", storage.ErrIntegrity)
)

// Config says how to reach the cluster. Endpoints is required; every other
// field has a default.
type Config struct {
	// Endpoints are the client URLs of the cluster's members, such as
	// https://10.0.0.1:2379. Required.
	Endpoints []string
	// Prefix is put before every key, so that one cluster can hold several
	// hosts' records (or other data). Default "chatbridge/".
	Prefix string
	// DialTimeout bounds connecting to the cluster in Open. Default 5 s.
	DialTimeout time.Duration
	// RequestTimeout bounds each call to the cluster, within the caller's
	// own deadline. Default 10 s.
	RequestTimeout time.Duration
	// CertFile and KeyFile are a TLS client certificate and its key (PEM),
	// for clusters that authenticate clients by certificate.
	CertFile, KeyFile string
	// CAFile is the PEM bundle of CAs that sign the members' certificates.
	// Default: the system's roots. Any of the three TLS files turns TLS on.
	CAFile string
	// Username and Password authenticate with etcd's own users and roles.
	// Compact needs the root role (compaction and defragmentation are
	// cluster-wide maintenance); see DisableCompact.
	Username, Password string
	// MaxTxnOps is the most writes (and, separately, preconditions) one
	// transaction may carry: the members' --max-txn-ops. Default 128, etcd's
	// default.
	MaxTxnOps int
	// MaxTxnBytes bounds the bytes of keys and values in one transaction,
	// below the members' --max-request-bytes. Default 1 MiB (etcd's default
	// limit is 1.5 MiB).
	MaxTxnBytes int
	// DisableCompact makes Compact a no-op, for a cluster whose operator
	// compacts and defragments it (etcd's --auto-compaction-*), or whose
	// user lacks the root role. Default off.
	DisableCompact bool
	// ReadCache, when set, answers the Gets a caller allows
	// (storage.WithReadCache) from memory, kept coherent by a watch on the
	// prefix (see "Read cache"). Default: none; every Get is linearizable.
	ReadCache *CacheConfig
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "chatbridge/"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = 128
	}
	if c.MaxTxnBytes == 0 {
		c.MaxTxnBytes = 1 << 20
	}
	return c
}

// tlsConfig builds the client's TLS configuration, or nil for plain TCP.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.CertFile == "" && c.KeyFile == "" && c.CAFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("%w: a client certificate needs both CertFile and KeyFile", ErrConfig)
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %w", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrConfig, c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// DB is a storage.Backend on an etcd cluster. It is safe for concurrent use.
type DB struct {
	cfg    Config
	tls    *tls.Config
	client *clientv3.Client
	leases *leases
	cache  *cache // nil without Config.ReadCache
	closed atomic.Bool

	// compactMu lets Snapshot (reading) finish its pages at one revision
	// before Compact (writing) discards that revision.
	compactMu sync.RWMutex
}

var _ storage.Backend = (*DB)(nil)

// Open connects to the cluster and checks that it answers. It writes
// nothing.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints", ErrConfig)
	}
	if cfg.MaxTxnOps < 1 || cfg.MaxTxnBytes < 1 {
		return nil, fmt.Errorf("%w: MaxTxnOps and MaxTxnBytes must be positive", ErrConfig)
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	d := &DB{cfg: cfg, tls: tc}
	client, err := clientv3.New(d.clientConfig(cfg.Endpoints))
	if err != nil {
		return nil, fmt.Errorf("etcd: connect: %w", err)
	}
	d.client, d.leases = client, newLeases(client.Lease)
	// A first read proves the cluster has a quorum and the credentials
	// work, so a misconfiguration fails startup, not the first request.
	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := client.Get(cctx, cfg.Prefix, clientv3.WithCountOnly()); err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd: connect: %w", err)
	}
	if cfg.ReadCache != nil {
		d.cache = newCache(d, *cfg.ReadCache)
	}
	return d, nil
}

// clientConfig is the client configuration for endpoints.
func (d *DB) clientConfig(endpoints []string) clientv3.Config {
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: d.cfg.DialTimeout,
		TLS:         d.tls,
		Username:    d.cfg.Username,
		Password:    d.cfg.Password,
		// The client logs through zap by default; the host logs with slog,
		// and errors reach it as return values.
		Logger: zap.NewNop(),
	}
}

// failed wraps an error of the cluster for op, marking those worth trying
// again later (no leader, a member gone, a timeout) with
// storage.ErrUnavailable, so that callers retry instead of giving up.
func failed(op string, err error) error {
	if transient(err) {
		return fmt.Errorf("etcd: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("etcd: %s: %w", op, err)
}

func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	switch rpctypes.Error(err) {
	case rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrNotCapable, rpctypes.ErrStopped,
		rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost,
		rpctypes.ErrTooManyRequests:
		return true
	}
	return false
}

// Client returns the DB's connection to the cluster, for coordination
// that shares it (host/cluster). Closing the DB closes it.
func (d *DB) Client() *clientv3.Client { return d.client }

// Leases returns how many leases the DB has granted since Open.
func (d *DB) Leases() int { return d.leases.count() }

// op gives a call its timeout, or fails after Close.
func (d *DB) op(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if d.closed.Load() {
		return nil, nil, storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	return ctx, cancel, nil
}

// record turns a stored key-value into a Record; ok is false for an expired one.
func (d *DB) record(key, val []byte, now time.Time) (storage.Record, bool) {
	k := string(key[len(d.cfg.Prefix):])
	exp, payload, valid := decodeValue(val)
	if !valid {
		return storage.Record{Key: k, Damaged: true}, true
	}
	if !live(exp, now) {
		return storage.Record{}, false
	}
	return storage.Record{Key: k, Value: payload, Expires: expiresAt(exp)}, true
}

// Get implements storage.Backend. The read is linearizable: it sees every
// write acknowledged before it began, whichever member took the write.
// With a read cache, a Get whose ctx allows it (storage.WithReadCache) may
// instead be answered from memory: it then sees every write this DB made
// and every write acknowledged CacheConfig.MaxStale before it began.
func (d *DB) Get(ctx context.Context, key string) (storage.Record, error) {
	ctx, cancel, err := d.op(ctx)
	if err != nil {
		return storage.Record{}, err
	}
	defer cancel()
	cached := d.cache != nil && storage.ReadCacheAllowed(ctx)
	if cached {
		if rec, ok := d.cache.get(ctx, d.cfg.Prefix+key, time.Now()); ok {
			return rec, nil
		}
	}
	resp, err := d.client.Get(ctx, d.cfg.Prefix+key)
	if err != nil {
		return storage.Record{}, failed("get", err)
	}
	if d.cache != nil {
		var kv *mvccpb.KeyValue
		if len(resp.Kvs) > 0 {
			kv = resp.Kvs[0]
			d.cache.observe(kv.ModRevision)
		}
		if cached {
			d.cache.fill(d.cfg.Prefix+key, kv, resp.Header.Revision)
		}
	}
	if len(resp.Kvs) == 0 {
		return storage.Record{}, storage.ErrNotFound
	}
	rec, ok := d.record(resp.Kvs[0].Key, resp.Kvs[0].Value, time.Now())
	switch {
	case !ok:
		return storage.Record{}, storage.ErrNotFound
	case rec.Damaged:
		return storage.Record{}, ErrDamaged
	}
	return rec, nil
}

// rangeEnd is the etcd range end for a Scan bound to ("" for none).
func (d *DB) rangeEnd(to string) string {
	if to != "" {
		return d.cfg.Prefix + to
	}
	if end := storage.PrefixEnd(d.cfg.Prefix); end != "" {
		return end
	}
	return "\x00" // etcd: every key from the start key on
}

// Scan implements storage.Backend: range reads at one revision, skipping
// records that have expired but that etcd has not yet deleted.
func (d *DB) Scan(ctx context.Context, from, to string, limit int) ([]storage.Record, error) {
	ctx, cancel, err := d.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if limit <= 0 || to != "" && from >= to {
		return nil, nil
	}
	var (
		out   []storage.Record
		start = d.cfg.Prefix + from
		end   = d.rangeEnd(to)
		rev   int64
		now   = time.Now()
	)
	for len(out) < limit {
		want := int64(limit - len(out))
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(want)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := d.client.Get(ctx, start, opts...)
		if err != nil {
			return nil, failed("scan", err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if d.cache != nil {
				d.cache.observe(kv.ModRevision)
			}
			if rec, ok := d.record(kv.Key, kv.Value, now); ok {
				out = append(out, rec)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return out, nil
}

// Set implements storage.Backend.
func (d *DB) Set(ctx context.Context, key string, value []byte, expires time.Time) error {
	return d.Apply(ctx, []storage.Write{{Key: key, Value: value, Expires: expires}})
}

// Delete implements storage.Backend.
func (d *DB) Delete(ctx context.Context, key string) error {
	return d.Apply(ctx, []storage.Write{{Key: key, Delete: true}})
}

// Close implements storage.Backend. Every acknowledged write is already
// committed to a quorum of members; Close only drops the connections.
// Leases are left to run out: revoking them would delete their records.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return storage.ErrClosed
	}
	if d.cache != nil {
		d.cache.stop()
	}
	if err := d.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: close: %w", err)
	}
	return nil
}

// isLeaseNotFound reports etcd's answer for a lease it no longer knows (run
// out, or lost with a restored cluster).
func isLeaseNotFound(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaseNotFound) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrGRPCLeaseNotFound)
}
