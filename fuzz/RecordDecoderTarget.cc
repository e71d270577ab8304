// RecordDecoder over the bytes of one frame's payload, without the frame: every record type's
// fields, lengths, masks and runs.
#include <string>
#include <vector>

#include "FuzzTargets.h"
#include "vmft/logchannel/RecordCodec.h"

namespace vmft::fuzz {

namespace {

using namespace vmft::logchannel;

bool same(const Record& a, const Record& b) {
  return a.seq == b.seq && a.icount == b.icount && a.body == b.body;
}

// Records the decoder accepted are records an encoder takes, and come back unchanged (the
// bytes may differ: a varint has more than one encoding). One record at a time, as a reader
// holds them: a digest can stand for far more memory than its bytes.
class RoundTrip {
 public:
  void check(const Record& record) {
    bytes_.clear();
    try {
      encoder_.encode(record, bytes_);
    } catch (const LogError& e) {
      throw PropertyViolated(std::string("a decoded record cannot be encoded: ") + e.what());
    }
    const DecodedRecord again = decoder_.decode(bytes_, 0);
    expect(again.size == bytes_.size(), "a re-encoded record decoded to a different size");
    expect(same(again.record, record), "a record changed in an encode-decode round trip");
  }

 private:
  RecordEncoder encoder_;
  RecordDecoder decoder_;
  std::vector<uint8_t> bytes_;
};

}  // namespace

void record_decoder(Bytes data) {
  RecordDecoder decoder;
  RoundTrip round_trip;
  size_t pos = 0;
  while (pos < data.size()) {
    DecodedRecord d;
    try {
      d = decoder.decode(data.subspan(pos), pos);
    } catch (const LogError&) {
      return;
    }
    expect(d.size > 0 && d.size <= data.size() - pos, "a record's size is outside its bytes");
    pos += d.size;
    (void)describe(d.record);
    round_trip.check(d.record);
  }
}

}  // namespace vmft::fuzz
