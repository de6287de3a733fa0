// Package p2p is the libp2p side of dsn: a Host that carries the protocol
// code's streams between real peers (it implements dsn.Transport) and finds
// peers by shard ID through a Kademlia DHT (it implements dsn.Router).
//
// It owns:
//
//   - the node's identity: an Ed25519 key in a PEM file (LoadOrCreateKey);
//   - the libp2p host: TCP and QUIC, Noise on TCP, yamux, the resource
//     manager with explicit limits (Limits), identify, AutoNAT v2, hole
//     punching, the circuit relay client and optional mDNS;
//   - the DHT: go-libp2p-kad-dht under the protocol prefix "/dsn", so it never
//     joins the public IPFS DHT, with no IPFS bootstrap peers and with
//     filters that keep loopback and private addresses (a testnet on
//     127.0.0.1 is a real DHT);
//   - bootstrapping: the peers a node has seen are persisted in a small,
//     bounded JSON file (PeersFile) and tried before the configured
//     bootstrap list, so a network outlives its bootstrap nodes.
//
// Stream semantics match the in-process transport (node/inproc) and are
// checked by the shared suite in node/transporttest: CloseWrite is a
// half-close, Close also stops the remote's writes (on yamux, which has no
// STOP_SENDING, by resetting the already half-closed stream, see
// stream.Close), Reset aborts both directions, deadlines behave as
// net.Conn's, and a stream is only handed out once the remote has agreed to
// the protocol, so NewStream itself reports dsn.ErrProtocolNotSupported.
//
// Streams run on direct connections only: a relayed (circuit v2)
// connection carries too little data for a shard, so NewStream waits for
// hole punching to add a direct one, and dials through the relay again if
// the first punch does not come (Host.openDirect says why). The NAT
// traversal (AutoNAT, relay reservations, hole punching, a store and
// retrieval through a NATed provider) and mDNS are tested over real network
// stacks in network namespaces (netns_test.go, with netnstest); those tests
// need root, ip and nft, and skip without them.
//
// It does not own any protocol above the stream (shardproto does), the shard
// store, placement decisions (the node package ranks the peers this package
// returns), or configuration files and flags (cmd/dsn).
package p2p
