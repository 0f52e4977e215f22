#pragma once
// TLS 1.2 AES-GCM records without OpenSSL's record layer (RFC 5246 6.2, RFC 5288): what
// a relay that terminated two TLS 1.2 connections needs once both are established,
// namely opening a record from one in place and sealing it in place for the other.
//
// A record: 5-byte header (type, version 3.3, length), then the 8-byte explicit nonce,
// the ciphertext and the 16-byte tag. The nonce is salt (4 bytes, from the key block)
// + explicit nonce; the additional data is seq(8) + type(1) + version(2) + plaintext
// length(2). AES-GCM adds the same 24 bytes to every record whatever the key, so a
// record opened with one connection's keys is sealed for the other in the same bytes.
//
// Errors are tls_category() codes with OpenSSL's reason numbers, so logs and metrics
// name them as they name OpenSSL's own (tls_reason_name), and alert_for() says which
// fatal alert answers each (RFC 5246 7.2).

#include "common/tls12_keys.hpp"

#include <absl/status/statusor.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace zp {

namespace tls12 {

inline constexpr std::size_t k_header = 5;
inline constexpr std::size_t k_explicit_nonce = 8;
inline constexpr std::size_t k_tag = 16;
/// What sealing adds to a plaintext: header, explicit nonce, tag.
inline constexpr std::size_t k_overhead = k_header + k_explicit_nonce + k_tag;
/// The largest plaintext of a record (RFC 5246 6.2.1).
inline constexpr std::size_t k_max_plaintext = 16384;
/// The largest whole record: a full plaintext sealed.
inline constexpr std::size_t k_max_record = k_max_plaintext + k_overhead;
/// Sequence numbers stop here, long before they could wrap (RFC 5246 6.1): a sender
/// that reached 2^63 records is broken or hostile, and the session closes.
inline constexpr std::uint64_t k_last_sequence = std::uint64_t{1} << 63;

enum class content_type : std::uint8_t {
  change_cipher_spec = 20,
  alert = 21,
  handshake = 22,
  application_data = 23,
};

/// The header of the record at the start of some bytes.
struct record_header {
  content_type type{};
  std::size_t size = 0;  // the whole record, header included
};

/// Reads the header at the start of `bytes`. Incomplete (fewer than 5 bytes): ok with
/// size 0. A version other than 3.3 (protocol_version), a body too short to hold a
/// nonce and a tag (bad_record_mac), or a plaintext over `max_plaintext`
/// (record_overflow) is an error. The type is not judged here.
std::error_code parse_header(std::span<const std::uint8_t> bytes, std::size_t max_plaintext, record_header& out);

/// The fatal alert (RFC 5246 7.2) that answers a record-layer error from this file, or
/// 0 for errors that get none (the peer's own alert, a socket error).
std::uint8_t alert_for(const std::error_code& ec);

/// The error for a received alert (its description), as OpenSSL names it.
std::error_code received_alert(std::uint8_t description);

/// One direction's protection: one AES-GCM key, its salt and the sequence number.
/// Owner: whoever holds it; it owns its OpenSSL cipher context.
class record_cipher {
 public:
  /// A sealer (`seal` true: our sending side) or an opener, from exported keys.
  static absl::StatusOr<record_cipher> make(const tls12_crypto_info& info, bool seal);
  record_cipher(record_cipher&&) noexcept = default;
  record_cipher& operator=(record_cipher&&) noexcept = default;

  /// Opens the whole record at `record` (its size from parse_header) in place: on
  /// success the plaintext is at record + 13, `size - 29` bytes, and the sequence
  /// number moves on. A bad tag is bad_record_mac, and the bytes are garbage then.
  std::error_code open(std::uint8_t* record, std::size_t size);
  /// Seals `plaintext_size` bytes at record + 13 in place as one record of `type`:
  /// writes the header, the explicit nonce (our sequence number) and the tag around
  /// them; the record is plaintext_size + 29 bytes.
  std::error_code seal(content_type type, std::uint8_t* record, std::size_t plaintext_size);
  /// The sequence number of the next record.
  std::uint64_t sequence() const { return seq_; }

 private:
  record_cipher(cipher_ctx_ptr ctx, std::uint64_t seq) : ctx_(std::move(ctx)), seq_(seq) {}
  // Gives the cipher the additional data of the record with sequence number seq_.
  bool set_aad(content_type type, std::size_t record_body);

  cipher_ctx_ptr ctx_;
  std::uint64_t seq_ = 0;
};

/// What reseal() did with a run of bytes from one connection.
struct reseal_result {
  /// Bytes from the start that are whole records, now sealed for the other side.
  std::size_t ready = 0;
  /// Application bytes in them.
  std::size_t plaintext = 0;
  /// The sender ended its stream with close_notify: `ready` stops before that record,
  /// and nothing after it counts.
  bool close_notify = false;
  /// A record that cannot be relayed (see alert_for); `ready` stops before it.
  std::error_code ec;
};

/// Opens every whole application-data record at the start of `bytes` with `from` and
/// seals it in place with `to`, up to an incomplete record, a close_notify or an error.
/// Records over `max_plaintext` are record_overflow; an alert other than close_notify
/// ends the run with received_alert(); handshake and ChangeCipherSpec records (a
/// renegotiation) and unknown types are unexpected_message.
reseal_result reseal(std::span<std::uint8_t> bytes, record_cipher& from, record_cipher& to, std::size_t max_plaintext);

/// Seals a two-byte alert into `out` (k_overhead + 2 bytes).
std::error_code seal_alert(record_cipher& to, std::uint8_t level, std::uint8_t description,
                           std::span<std::uint8_t, k_overhead + 2> out);

}  // namespace tls12
}  // namespace zp
