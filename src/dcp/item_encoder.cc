#include "dcp/item_encoder.h"

namespace sluice::dcp {

ItemView ItemView::Of(const engine::Item& item) {
  ItemView v;
  v.seqno = item.by_seqno;
  v.rev_seqno = item.rev_seqno;
  v.cas = item.cas;
  v.flags = item.flags;
  v.expiry = item.expiry;
  v.datatype = item.datatype;
  v.deleted = item.deleted;
  v.delete_source = item.delete_source;
  v.key = item.key;
  v.value = item.value.view();
  return v;
}

ItemView ItemView::Of(const storage::DiskDocView& doc) {
  ItemView v;
  v.seqno = doc.seqno;
  v.rev_seqno = doc.rev_seqno;
  v.cas = doc.cas;
  v.flags = doc.flags;
  v.expiry = doc.expiry;
  v.datatype = doc.datatype;
  v.deleted = doc.deleted;
  v.delete_source = doc.delete_source;
  v.key = doc.key;
  v.value = doc.value;
  return v;
}

void ItemEncoder::Append(DcpMessage::Type type, const ItemView& item, Vbid vb, uint32_t opaque,
                         std::string* out) const {
  const size_t at = out->size();
  out->resize(at + Size(type, item, vb, opaque));
  Write(type, item, vb, opaque, out->data() + at);
}

}  // namespace sluice::dcp
