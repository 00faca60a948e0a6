#include "dcp/item_encoder.h"

#include "xattr/filter.h"

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
  v.prepared = item.sync_op == engine::SyncOp::kPrepare;
  v.durability_level = item.durability_level;
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
  v.prepared = doc.prepared;
  v.durability_level = doc.durability_level;
  return v;
}

ItemView ItemEncoder::Outgoing(const ItemView& item, std::string* storage) const {
  if (IsPlain(item)) return Outgoing(item);
  xattr::StreamOptions o;
  o.include_body = (open_flags_ & kNoBodyFlags) == 0;
  o.include_xattrs = (open_flags_ & protocol::kDcpOpenIncludeXattrs) != 0;
  o.include_deleted_user_xattrs = (open_flags_ & protocol::kDcpOpenIncludeDeletedUserXattrs) != 0;
  o.underlying_datatype = (open_flags_ & protocol::kDcpOpenNoValueWithUnderlyingDatatype) != 0;
  xattr::StreamValue v = xattr::ForStream(item.value, item.datatype, item.deleted, o);
  ItemView out = item;
  out.datatype = v.datatype;
  if (v.rebuilt) {
    *storage = std::move(v.storage);
    out.value = *storage;
  } else {
    out.value = v.part;
  }
  return out;
}

void ItemEncoder::Append(DcpMessage::Type type, const ItemView& item, StreamKey key,
                         uint32_t opaque, std::string* out) const {
  std::string storage;  // a rebuilt value (xattrs filtered), if any
  const ItemView outgoing = Outgoing(item, &storage);
  const size_t at = out->size();
  out->resize(at + Size(type, outgoing, key, opaque));
  Write(type, outgoing, key, opaque, out->data() + at);
}

}  // namespace sluice::dcp
