// Case-loop strings of the mobile pages (the `mcases` namespace).
const mcasesZhCN = {
  title: '案件',
}

export default mcasesZhCN
export type MobileCaseMessages = typeof mcasesZhCN
