#include "dcp/dcp_message.h"

namespace sluice::dcp {

size_t DcpMessage::MemorySize() const {
  return sizeof(DcpMessage) + (item ? item->SizeInMemory() : 0) + (batch ? batch_memory : 0);
}

}  // namespace sluice::dcp
