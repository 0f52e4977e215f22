#pragma once
// The fault-injection seam of the data plane's streams (Beast's fail_count, Seastar's
// error injection): a tls_socket with an io_faults asks it before every operation
// whether that operation must fail, and with what. Tests use it to make the Nth read,
// write, shutdown or handoff of a connection fail, so every error path of admission, the
// rendezvous and the relay runs in a test. Production streams have none (one pointer
// test per operation).
//
// Owner: the stream it is attached to; it moves with the stream across workers, so it is
// only ever used by one thread at a time.

#include <cstdint>
#include <system_error>

namespace zp {

class io_faults {
 public:
  enum class op : std::uint8_t { handshake, read, write, shutdown, adopt };

  virtual ~io_faults() = default;
  /// The error operation `o` fails with instead of running, or none to let it run.
  virtual std::error_code inject(op o) = 0;
};

}  // namespace zp
