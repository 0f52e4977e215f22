#include "daemon/windows/firewall_rules.hpp"

#include "common/platform/windows/win32_text.hpp"

// The firewall's class and interface ids are in no import library mingw-w64 ships: this,
// the only file that includes netfw.h, defines them.
#include <initguid.h>
#include <netfw.h>
#include <oleauto.h>

#include <cstdio>
#include <string_view>
#include <utility>

namespace zp::windows {
namespace {

struct rule_spec {
  const wchar_t* name;
  const char* netsh_name;
  int port;
  const wchar_t* description;
};

// The contract's default ports. A provisioning that moves the data plane elsewhere needs
// the rules edited to match (the README says so).
constexpr rule_spec k_rules[] = {
    {L"zoneproxy endpoints (TCP 17486)", "zoneproxy endpoints (TCP 17486)", 17486,
     L"Endpoints connect to zoneproxy over TLS from untrusted networks."},
    {L"zoneproxy Module Server (TCP 17487)", "zoneproxy Module Server (TCP 17487)", 17487,
     L"The Module Server connects to zoneproxy over mutual TLS. Narrow to its addresses."},
    {L"zoneproxy control API (TCP 17488)", "zoneproxy control API (TCP 17488)", 17488,
     L"Provisioning and control API of zoneproxy (HTTPS). Narrow to the Module Server's addresses."},
};
constexpr wchar_t k_grouping[] = L"zoneproxy";
// INetFwRules::Remove takes out one rule of a name at a time; more than this many of one
// name was not made by us, and is left for the administrator.
constexpr int k_max_same_name = 16;

/// Owns one COM interface pointer.
template <class T>
class com_ptr {
 public:
  com_ptr() = default;
  ~com_ptr() {
    if (p_ != nullptr) p_->Release();
  }
  com_ptr(const com_ptr&) = delete;
  com_ptr& operator=(const com_ptr&) = delete;
  T* operator->() const { return p_; }
  T* get() const { return p_; }
  T** out() { return &p_; }
  void** out_void() { return reinterpret_cast<void**>(&p_); }

 private:
  T* p_ = nullptr;
};

/// Owns a BSTR.
class bstr {
 public:
  explicit bstr(const std::wstring& s) : b_(::SysAllocStringLen(s.data(), static_cast<UINT>(s.size()))) {}
  ~bstr() { ::SysFreeString(b_); }
  bstr(const bstr&) = delete;
  bstr& operator=(const bstr&) = delete;
  BSTR get() const { return b_; }

 private:
  BSTR b_;
};

/// COM for this thread, for as long as the object lives.
class com_scope {
 public:
  com_scope() : hr_(::CoInitializeEx(nullptr, COINIT_APARTMENTTHREADED)) {}
  ~com_scope() {
    if (SUCCEEDED(hr_)) ::CoUninitialize();
  }
  com_scope(const com_scope&) = delete;
  com_scope& operator=(const com_scope&) = delete;
  // RPC_E_CHANGED_MODE: COM is already up on this thread in the other model; usable.
  bool ok() const { return SUCCEEDED(hr_) || hr_ == RPC_E_CHANGED_MODE; }
  HRESULT hr() const { return hr_; }

 private:
  HRESULT hr_;
};

std::string hr_text(const char* what, HRESULT hr) {
  std::string text = win32_message(static_cast<DWORD>(hr));
  if (const auto at = text.rfind(" ("); at != std::string::npos) text.erase(at);  // decimal: HRESULTs read in hex
  char code[16];
  std::snprintf(code, sizeof code, "0x%08lx", static_cast<unsigned long>(hr));
  return std::string(what) + ": " + text + " (" + code + ")";
}

HRESULT open_rules(com_ptr<INetFwRules>& rules) {
  com_ptr<INetFwPolicy2> policy;
  HRESULT hr =
      ::CoCreateInstance(CLSID_NetFwPolicy2, nullptr, CLSCTX_INPROC_SERVER, IID_INetFwPolicy2, policy.out_void());
  if (FAILED(hr)) return hr;
  return policy->get_Rules(rules.out());
}

HRESULT remove_named(INetFwRules* rules, const wchar_t* name) {
  const bstr b(name);
  for (int i = 0; i < k_max_same_name; ++i) {
    com_ptr<INetFwRule> existing;
    if (FAILED(rules->Item(b.get(), existing.out()))) return S_OK;  // none (left) of that name
    if (HRESULT hr = rules->Remove(b.get()); FAILED(hr)) return hr;
  }
  return S_OK;
}

HRESULT add_one(INetFwRules* rules, const rule_spec& spec, const std::wstring& exe) {
  com_ptr<INetFwRule> rule;
  HRESULT hr = ::CoCreateInstance(CLSID_NetFwRule, nullptr, CLSCTX_INPROC_SERVER, IID_INetFwRule, rule.out_void());
  if (FAILED(hr)) return hr;
  const bstr name(spec.name), description(spec.description), program(exe), grouping(k_grouping),
      ports(std::to_wstring(spec.port));
  // Protocol before ports: the firewall refuses ports on a rule of any protocol.
  for (HRESULT step : {rule->put_Name(name.get()), rule->put_Description(description.get()),
                       rule->put_ApplicationName(program.get()), rule->put_Protocol(NET_FW_IP_PROTOCOL_TCP)}) {
    if (FAILED(step)) return step;
  }
  for (HRESULT step : {rule->put_LocalPorts(ports.get()), rule->put_Direction(NET_FW_RULE_DIR_IN),
                       rule->put_Action(NET_FW_ACTION_ALLOW), rule->put_Profiles(NET_FW_PROFILE2_ALL),
                       rule->put_Grouping(grouping.get()), rule->put_Enabled(VARIANT_TRUE)}) {
    if (FAILED(step)) return step;
  }
  return rules->Add(rule.get());
}

}  // namespace

std::string add_firewall_rules(const std::string& exe) {
  const com_scope com;
  if (!com.ok()) return hr_text("CoInitializeEx", com.hr());
  com_ptr<INetFwRules> rules;
  if (HRESULT hr = open_rules(rules); FAILED(hr)) return hr_text("Windows Firewall policy", hr);
  const std::wstring program = widen(exe);
  for (const rule_spec& spec : k_rules) {
    if (HRESULT hr = remove_named(rules.get(), spec.name); FAILED(hr)) return hr_text(spec.netsh_name, hr);
    if (HRESULT hr = add_one(rules.get(), spec, program); FAILED(hr)) return hr_text(spec.netsh_name, hr);
    // Read back: a firewall API that is only a stub (Wine's) answers Add with success.
    com_ptr<INetFwRule> added;
    if (HRESULT hr = rules->Item(bstr(spec.name).get(), added.out()); FAILED(hr)) {
      return std::string(spec.netsh_name) + ": added, but the firewall does not list it (" +
             hr_text("INetFwRules::Item", hr) + ")";
    }
  }
  return {};
}

std::string remove_firewall_rules() {
  const com_scope com;
  if (!com.ok()) return hr_text("CoInitializeEx", com.hr());
  com_ptr<INetFwRules> rules;
  if (HRESULT hr = open_rules(rules); FAILED(hr)) return hr_text("Windows Firewall policy", hr);
  for (const rule_spec& spec : k_rules) {
    if (HRESULT hr = remove_named(rules.get(), spec.name); FAILED(hr)) return hr_text(spec.netsh_name, hr);
  }
  return {};
}

std::string firewall_netsh_commands(const std::string& exe) {
  std::string out;
  for (const rule_spec& spec : k_rules) {
    out += "  netsh advfirewall firewall add rule name=\"";
    out += spec.netsh_name;
    out += "\" dir=in action=allow protocol=TCP localport=" + std::to_string(spec.port) + " program=\"" + exe + "\"\n";
  }
  return out;
}

}  // namespace zp::windows
