#include "dcp/dcp_message.h"

#include "dcp/backfill_batch.h"

namespace sluice::dcp {

size_t DcpMessage::MemorySize() const {
  return sizeof(DcpMessage) + (item ? item->SizeInMemory() : 0) + (batch ? batch->MemorySize() : 0);
}

}  // namespace sluice::dcp
