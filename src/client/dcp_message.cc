// File: client/dcp_message.cc
#include "client/dcp_message.h"

#include <fmt/format.h>

#include <type_traits>
#include <variant>

namespace sluice::client {

using protocol::Opcode;

StatusOr<DcpMessage> ToDcpMessage(const protocol::Frame& frame, bool collections) {
  if (frame.is_response()) return DcpMessage(Response::FromFrame(frame));
  if (frame.magic == protocol::Magic::kServerRequest) {
    return DcpMessage(DcpOtherRequest{frame.magic, frame.opcode, frame.vbucket(), frame.opaque,
                                      frame.cas, frame.datatype, std::string(frame.extras),
                                      std::string(frame.key), std::string(frame.value)});
  }
  switch (frame.client_opcode()) {
    case Opcode::kDcpSnapshotMarker: {
      ASSIGN_OR_RETURN(protocol::DcpSnapshotMarker marker,
                       protocol::DecodeDcpSnapshotMarker(frame));
      return DcpMessage(marker);
    }
    case Opcode::kDcpMutation: {
      ASSIGN_OR_RETURN(protocol::DcpMutation m, protocol::DecodeDcpMutation(frame, collections));
      return DcpMessage(m.As<std::string>());
    }
    case Opcode::kDcpDeletion: {
      ASSIGN_OR_RETURN(protocol::DcpDeletion d, protocol::DecodeDcpDeletion(frame, collections));
      return DcpMessage(d.As<std::string>());
    }
    case Opcode::kDcpExpiration: {
      ASSIGN_OR_RETURN(protocol::DcpExpiration x,
                       protocol::DecodeDcpExpiration(frame, collections));
      return DcpMessage(x.As<std::string>());
    }
    case Opcode::kDcpStreamEnd: {
      ASSIGN_OR_RETURN(protocol::DcpStreamEnd end, protocol::DecodeDcpStreamEnd(frame));
      return DcpMessage(end);
    }
    case Opcode::kDcpSeqnoAdvanced: {
      ASSIGN_OR_RETURN(protocol::DcpSeqnoAdvanced advanced,
                       protocol::DecodeDcpSeqnoAdvanced(frame));
      return DcpMessage(advanced);
    }
    case Opcode::kDcpOsoSnapshot: {
      ASSIGN_OR_RETURN(protocol::DcpOsoSnapshot oso, protocol::DecodeDcpOsoSnapshot(frame));
      return DcpMessage(oso);
    }
    default:
      return DcpMessage(DcpOtherRequest{frame.magic, frame.opcode, frame.vbucket(), frame.opaque,
                                        frame.cas, frame.datatype, std::string(frame.extras),
                                        std::string(frame.key), std::string(frame.value)});
  }
}

StatusOr<DcpMessageView> ToDcpMessageView(const protocol::Frame& frame, bool collections) {
  DcpMessageView view;
  view.wire_size = frame.size;
  if (frame.is_response() || frame.magic == protocol::Magic::kServerRequest) {
    view.message = frame;
    return view;
  }
  switch (frame.client_opcode()) {
    case Opcode::kDcpSnapshotMarker: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpSnapshotMarker(frame));
      return view;
    }
    case Opcode::kDcpMutation: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpMutation(frame, collections));
      return view;
    }
    case Opcode::kDcpDeletion: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpDeletion(frame, collections));
      return view;
    }
    case Opcode::kDcpExpiration: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpExpiration(frame, collections));
      return view;
    }
    case Opcode::kDcpSeqnoAdvanced: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpSeqnoAdvanced(frame));
      return view;
    }
    case Opcode::kDcpOsoSnapshot: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpOsoSnapshot(frame));
      return view;
    }
    case Opcode::kDcpStreamEnd: {
      ASSIGN_OR_RETURN(view.message, protocol::DecodeDcpStreamEnd(frame));
      return view;
    }
    default:
      view.message = frame;
      return view;
  }
}

namespace {

struct Describer {
  std::string operator()(const protocol::DcpSnapshotMarker& m) const {
    return fmt::format("DCP_SNAPSHOT_MARKER vb:{} start:{} end:{} flags:{:#x}", m.vbucket,
                       m.start_seqno, m.end_seqno, m.flags);
  }
  std::string operator()(const DcpMutation& m) const {
    return fmt::format("DCP_MUTATION vb:{} seqno:{} key:{}", m.vbucket, m.by_seqno, m.key);
  }
  std::string operator()(const DcpDeletion& d) const {
    return fmt::format("DCP_DELETION vb:{} seqno:{} key:{}", d.vbucket, d.by_seqno, d.key);
  }
  std::string operator()(const DcpExpiration& x) const {
    return fmt::format("DCP_EXPIRATION vb:{} seqno:{} key:{}", x.vbucket, x.by_seqno, x.key);
  }
  std::string operator()(const protocol::DcpSeqnoAdvanced& a) const {
    return fmt::format("DCP_SEQNO_ADVANCED vb:{} seqno:{}", a.vbucket, a.by_seqno);
  }
  std::string operator()(const protocol::DcpOsoSnapshot& o) const {
    return fmt::format("DCP_OSO_SNAPSHOT vb:{} {}", o.vbucket,
                       o.flags == protocol::kDcpOsoSnapshotStart ? "start" : "end");
  }
  std::string operator()(const protocol::DcpStreamEnd& e) const {
    return fmt::format("DCP_STREAM_END vb:{} status:{}", e.vbucket,
                       protocol::DcpStreamEndStatusName(e.status));
  }
  std::string operator()(const Response& r) const {
    return fmt::format("response {} opaque:{} status:{}", protocol::OpcodeName(r.opcode), r.opaque,
                       protocol::McbpStatusName(r.status));
  }
  std::string operator()(const DcpOtherRequest& r) const {
    return fmt::format("request opcode:{:#x} vb:{} opaque:{}", r.opcode, r.vbucket, r.opaque);
  }
};

}  // namespace

StatusOr<StreamReqResult> ToStreamReqResult(const protocol::Frame& response) {
  StreamReqResult result;
  result.status = response.status();
  result.opaque = response.opaque;
  if (result.status == protocol::McbpStatus::kSuccess) {
    ASSIGN_OR_RETURN(result.failover_log, protocol::DecodeFailoverLog(response.value));
  } else if (result.status == protocol::McbpStatus::kRollback) {
    ASSIGN_OR_RETURN(result.rollback_seqno, protocol::DecodeRollbackSeqno(response.value));
  } else {
    result.value.assign(response.value);
  }
  return result;
}

std::string DescribeDcpMessage(const DcpMessage& message) {
  return std::visit(Describer{}, message);
}

DcpMessageView ViewOf(const DcpMessage& message) {
  DcpMessageView view;
  std::visit(
      [&view](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, DcpMutation> || std::is_same_v<T, DcpDeletion> ||
                      std::is_same_v<T, DcpExpiration>) {
          view.message = m.template As<std::string_view>();
        } else if constexpr (std::is_same_v<T, Response>) {
          protocol::Frame f;
          f.magic = m.magic;
          f.opcode = static_cast<uint8_t>(m.opcode);
          f.datatype = m.datatype;
          f.specific = static_cast<uint16_t>(m.status);
          f.opaque = m.opaque;
          f.cas = m.cas;
          f.framing_extras = m.framing_extras;
          f.extras = m.extras;
          f.key = m.key;
          f.value = m.value;
          view.message = f;
        } else if constexpr (std::is_same_v<T, DcpOtherRequest>) {
          protocol::Frame f;
          f.magic = m.magic;
          f.opcode = m.opcode;
          f.datatype = m.datatype;
          f.specific = m.vbucket;
          f.opaque = m.opaque;
          f.cas = m.cas;
          f.extras = m.extras;
          f.key = m.key;
          f.value = m.value;
          view.message = f;
        } else {
          view.message = m;
        }
      },
      message);
  return view;
}

std::string DescribeDcpMessage(const DcpMessageView& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::DcpMutation> ||
                      std::is_same_v<T, protocol::DcpDeletion> ||
                      std::is_same_v<T, protocol::DcpExpiration>) {
          return DescribeDcpMessage(DcpMessage(m.template As<std::string>()));
        } else if constexpr (std::is_same_v<T, protocol::Frame>) {
          StatusOr<DcpMessage> owned = ToDcpMessage(m, /*collections=*/false);
          return owned.ok() ? DescribeDcpMessage(*owned) : owned.status().ToString();
        } else {
          return DescribeDcpMessage(DcpMessage(m));
        }
      },
      message.message);
}

}  // namespace sluice::client
