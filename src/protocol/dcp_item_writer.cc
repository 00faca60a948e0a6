// The owned-string encoders of dcp_codec.h's item messages: a resize plus the writers of
// dcp_item_writer.h (one encoding for both).
#include "protocol/dcp_item_writer.h"

#include <string>

namespace sluice::protocol {

void AppendDcpMutation(std::string* out, const DcpMutation& m, bool collections) {
  const size_t at = out->size();
  out->resize(at + DcpMutationSize(m, collections));
  WriteDcpMutation(out->data() + at, m, collections);
}

void AppendDcpDeletion(std::string* out, const DcpDeletion& d, bool collections) {
  const size_t at = out->size();
  out->resize(at + DcpDeletionSize(d, collections));
  WriteDcpDeletion(out->data() + at, d, collections);
}

void AppendDcpExpiration(std::string* out, const DcpExpiration& x, bool collections) {
  const size_t at = out->size();
  out->resize(at + DcpExpirationSize(x, collections));
  WriteDcpExpiration(out->data() + at, x, collections);
}

}  // namespace sluice::protocol
